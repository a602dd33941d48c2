// How amounts, times and statuses read on the page.

export function usd(amount) {
  const value = Number(amount ?? 0);
  const digits = Math.abs(value) < 0.01 && value !== 0 ? 6 : 2;
  const text = Math.abs(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: Math.max(digits, 4) });
  return `${value < 0 ? "−" : ""}$${text}`;
}

export function dateTime(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  return moment.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function ago(iso) {
  if (!iso) return "";
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return dateTime(iso);
}

export function inSeconds(iso) {
  if (!iso) return null;
  return Math.max(0, Math.round((new Date(iso).getTime() - Date.now()) / 1000));
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export const STATUS_WORDS = {
  created: "Queued",
  processing: "Rendering",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
  timeout: "Timed out",
};

export const ENDED = new Set(["completed", "failed", "cancelled", "timeout"]);

export function sentence(text) {
  const trimmed = String(text ?? "").trim();
  if (!trimmed) return "";
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?)]$/.test(first) ? first : `${first}.`;
}

/** "kwaivgi/kling-v2.5-turbo-std/image-to-video" -> "Kling V2.5 Turbo Std" where the models list has no name. */
export function shortModel(id, models) {
  const found = models?.find((model) => model.id === id);
  if (found?.name) return found.name.replace(/, image to video$/i, "");
  return id.split("/").slice(-2, -1)[0] ?? id;
}
