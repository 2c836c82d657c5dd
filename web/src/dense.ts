/**
 * Dense views on a canvas. When thousands of events are on screen at once, SVG elements (one per
 * dot and per arrow) make every zoom frame cost hundreds of milliseconds of style and paint;
 * a canvas repaints the same picture in a few. The viewer switches to this painter above a
 * threshold of visible events and back to SVG (with per-event elements, labels, arrowheads)
 * once zoomed in.
 */

export interface Dot {
  x: number;
  y: number;
  r: number;
  fill: string;
  alpha: number;
  ring?: string;
}

export interface Segment {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  stroke: string;
  alpha: number;
  width: number;
  dashed: boolean;
}

/** Sizes the canvas to `width` x `height` CSS pixels at the screen's pixel density. */
export function sizeCanvas(canvas: HTMLCanvasElement, width: number, height: number): void {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
}

export function clearCanvas(canvas: HTMLCanvasElement): void {
  const ctx = canvas.getContext("2d");
  ctx?.clearRect(0, 0, canvas.width, canvas.height);
  canvas.dataset.drawnEvents = "0";
  canvas.dataset.drawnMessages = "0";
}

/** Paints segments, then dots, clipped to x >= clipLeft (the node labels' gutter stays clear). */
export function paint(
  canvas: HTMLCanvasElement,
  clipLeft: number,
  segments: readonly Segment[],
  dots: readonly Dot[],
): void {
  const ctx = canvas.getContext("2d");
  if (ctx === null) return;
  const ratio = window.devicePixelRatio || 1;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.save();
  ctx.beginPath();
  ctx.rect(clipLeft, 0, canvas.width / ratio - clipLeft, canvas.height / ratio);
  ctx.clip();
  for (const s of segments) {
    ctx.globalAlpha = s.alpha;
    ctx.strokeStyle = s.stroke;
    ctx.lineWidth = s.width;
    ctx.setLineDash(s.dashed ? [4, 3] : []);
    ctx.beginPath();
    ctx.moveTo(s.x1, s.y1);
    ctx.lineTo(s.x2, s.y2);
    ctx.stroke();
  }
  ctx.setLineDash([]);
  for (const d of dots) {
    ctx.globalAlpha = d.alpha;
    ctx.fillStyle = d.fill;
    ctx.beginPath();
    ctx.arc(d.x, d.y, d.r, 0, 2 * Math.PI);
    ctx.fill();
    if (d.ring !== undefined) {
      ctx.strokeStyle = d.ring;
      ctx.lineWidth = 2;
      ctx.stroke();
    }
  }
  ctx.restore();
  canvas.dataset.drawnEvents = String(dots.length);
  canvas.dataset.drawnMessages = String(segments.length);
}
