/**
 * The trace viewer's state, split by owner. The page (viewer.ts) decides what is selected, cut,
 * hidden and how far the replay has got; the diagram (diagram.ts) reads that at every frame and
 * owns only its geometry (x axis mode, zoom). One object, shared by reference, means a control
 * changes a field and asks for a render, with no copies to keep in step.
 */
import type { Cut, Relation, Trace, TraceEvent } from "./model.ts";

export type XMode = "order" | "time";

/** What the page decides and the diagram shows. */
export interface Highlights {
  /** The selected event's relation to every stamped event; absent: nothing selected. */
  relations?: Map<TraceEvent, Relation>;
  cut?: Cut;
  /** Ids of the messages that cross the cut backward. */
  backward: Set<number>;
  /** Replay time: events after it are hidden. */
  timeT: number;
  /** Message labels switched off in the legend. */
  hiddenLabels: Set<string>;
}

export interface ViewerState extends Highlights {
  trace?: Trace;
  name: string;
  selected?: TraceEvent;
  cutMode: boolean;
  playing: boolean;
}
