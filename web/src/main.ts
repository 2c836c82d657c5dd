/**
 * Entry point: two views, the trace viewer (#trace) and the cluster dashboard (#cluster),
 * switched by the URL hash. Without a hash the page opens what the server was started with.
 */
import type { UiConfig } from "../../src/ui/api.ts";
import { mountDashboard } from "./dashboard.ts";
import "./style.css";
import { mountViewer } from "./viewer.ts";

async function loadConfig(): Promise<UiConfig> {
  try {
    const res = await fetch("./api/config");
    if (res.ok) return (await res.json()) as UiConfig;
  } catch {
    // Served without the API (a static copy of web/dist): the viewer still opens files.
  }
  return { trace: null, cluster: null };
}

const config = await loadConfig();
const views = {
  trace: document.getElementById("view-trace") as HTMLElement,
  cluster: document.getElementById("view-cluster") as HTMLElement,
};
const mounted = new Set<keyof typeof views>();

function show(name: keyof typeof views): void {
  for (const [k, el] of Object.entries(views)) el.hidden = k !== name;
  for (const k of Object.keys(views))
    document.getElementById(`tab-${k}`)?.classList.toggle("active", k === name);
  if (mounted.has(name)) return;
  mounted.add(name);
  if (name === "trace") mountViewer(views.trace, config);
  else mountDashboard(views.cluster, config);
}

function route(): void {
  const hash = location.hash.replace("#", "");
  if (hash === "trace" || hash === "cluster") show(hash);
  else show(config.cluster !== null && config.trace === null ? "cluster" : "trace");
}

window.addEventListener("hashchange", route);
route();
