// Words and numbers as the screens show them: POD names, times, sizes, signal and claims.
import type { ClaimView, CommandError } from "./bindings";

/** `d--0000-0000-0000-00b1` for the advertised id 0xb1. */
export function slug(device: number): string {
  const hex = device.toString(16).padStart(16, "0");
  return `d--${hex.slice(0, 4)}-${hex.slice(4, 8)}-${hex.slice(8, 12)}-${hex.slice(12)}`;
}

/** "just now", "3 min ago", "2 h ago", "4 days ago" for a Unix time in seconds. */
export function ago(unixSecs: number, nowMs = Date.now()): string {
  const secs = Math.max(0, Math.round(nowMs / 1000 - unixSecs));
  if (secs < 60) return "just now";
  const mins = Math.floor(secs / 60);
  if (mins < 60) return `${mins} min ago`;
  const hours = Math.floor(mins / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

const number = new Intl.NumberFormat();

export function count(n: number): string {
  return number.format(n);
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** A local date and time, short. */
export function when(ms: number): string {
  return new Date(ms).toLocaleString(undefined, {
    dateStyle: "short",
    timeStyle: "short",
  });
}

export type Signal = { bars: 1 | 2 | 3 | 4; word: string };

/** How strong a POD sounds, in four steps with a word for each. */
export function signal(rssi: number): Signal {
  if (rssi >= -60) return { bars: 4, word: "strong" };
  if (rssi >= -70) return { bars: 3, word: "good" };
  if (rssi >= -80) return { bars: 2, word: "fair" };
  return { bars: 1, word: "weak" };
}

/** What the copy knows of a POD's claim, in a sentence. */
export function claimText(claim: ClaimView): string {
  switch (claim.state) {
    case "unknown":
      return "Not claimed (as far as this laptop knows)";
    case "claimed":
      return claim.project ? `Claimed into ${claim.project}` : "Claimed";
    case "pending":
      return `Claim into ${claim.project} pending until the cloud accepts it`;
    case "refused":
      return `Claim into ${claim.project} refused: ${claim.reason}`;
  }
}

/** A failed command's sentence; anything else as text. */
export function problem(error: CommandError | unknown): string {
  if (error && typeof error === "object" && "message" in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}
