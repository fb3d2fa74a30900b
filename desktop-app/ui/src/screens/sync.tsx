// What waits to go up, the claims made on this laptop, the sync log, and "Sync now". The
// app also syncs by itself whenever the network is there; this screen follows
// `SyncChanged` so it is always current.
import { useCallback, useEffect, useState } from "preact/hooks";
import {
  commands,
  events,
  type ClaimRow,
  type LogEntry,
  type SyncProgress,
  type SyncSummary,
  type Waiting,
} from "../bindings";
import { count, kib, problem, when } from "../format";

export function Sync() {
  const [waiting, setWaiting] = useState<Waiting>();
  const [claims, setClaims] = useState<ClaimRow[]>();
  const [log, setLog] = useState<LogEntry[]>();
  const [busy, setBusy] = useState(false);
  const [summary, setSummary] = useState<string>();
  const [error, setError] = useState<string>();
  // The upload under way, whoever started the pass (this button or the background sync).
  const [uploading, setUploading] = useState<SyncProgress>();

  const load = useCallback(async () => {
    const [w, c, l] = await Promise.all([commands.waiting(), commands.claims(), commands.syncLog(100)]);
    if (w.status === "ok") setWaiting(w.data);
    if (c.status === "ok") setClaims(c.data);
    if (l.status === "ok") setLog(l.data);
    const failed = [w, c, l].find((r) => r.status === "error");
    setError(failed?.status === "error" ? problem(failed.error) : undefined);
  }, []);

  useEffect(() => {
    void load();
    const changed = events.syncChanged.listen(() => {
      setUploading(undefined);
      void load();
    });
    const progressed = events.syncProgressed.listen((e) => setUploading(e.payload));
    return () => {
      void changed.then((f) => f());
      void progressed.then((f) => f());
    };
  }, [load]);

  const syncNow = async () => {
    setBusy(true);
    setSummary(undefined);
    const got = await commands.syncNow();
    setBusy(false);
    setSummary(got.status === "ok" ? summaryText(got.data) : `Sync failed: ${problem(got.error)}`);
    await load();
  };

  return (
    <>
      <section aria-labelledby="waiting-heading">
        <h2 id="waiting-heading">Waiting to go up</h2>
        {waiting && (
          <dl class="tiles" id="waiting">
            <div>
              <dt>Claims</dt>
              <dd id="waiting-claims">{count(waiting.claims)}</dd>
            </div>
            <div>
              <dt>Readings</dt>
              <dd id="waiting-readings">{count(waiting.readings)}</dd>
              <dd class="sub">
                in {count(waiting.reports)} reports, {kib(waiting.bytes)}
              </dd>
            </div>
            <div>
              <dt>Update outcomes</dt>
              <dd>{count(waiting.actions)}</dd>
            </div>
            <div>
              <dt>Kept aside</dt>
              <dd>{count(waiting.quarantined)}</dd>
              <dd class="sub">reports that failed a check</dd>
            </div>
          </dl>
        )}
        <div class="actions">
          <button type="button" id="sync-now" onClick={syncNow} disabled={busy}>
            {busy ? "Syncing…" : "Sync now"}
          </button>
        </div>
        {uploading && uploading.reports_sent < uploading.reports && (
          <div class="progress">
            <label for="sync-progress">
              Uploading: {count(uploading.reports_sent)} of {count(uploading.reports)} reports
            </label>
            <progress id="sync-progress" max={uploading.reports} value={uploading.reports_sent} />
          </div>
        )}
        <p id="sync-summary" aria-live="polite" class="notice-line">
          {summary}
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </section>

      <section aria-labelledby="claims-heading">
        <h2 id="claims-heading">Claims made on this laptop</h2>
        {claims && claims.length === 0 && <p>No claims yet.</p>}
        {claims && claims.length > 0 && (
          <div class="table-wrap">
            <table id="claims">
              <thead>
                <tr>
                  <th scope="col">POD</th>
                  <th scope="col">Project</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {claims.map((c) => (
                  <tr key={c.id} data-state={c.state}>
                    <td>{c.slug}</td>
                    <td>{c.project_name}</td>
                    <td>{claimState(c)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section aria-labelledby="log-heading">
        <h2 id="log-heading">Log</h2>
        {log && log.length === 0 && <p>Nothing has happened yet.</p>}
        {log && log.length > 0 && (
          <div class="table-wrap">
            <table id="log">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">What</th>
                  <th scope="col">Result</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {log.map((e) => (
                  <tr key={e.id}>
                    <td class="nowrap">{when(e.at * 1000)}</td>
                    <td>{what(e)}</td>
                    <td class={e.ok ? "ok" : "failed"}>{e.ok ? "OK" : "Failed"}</td>
                    <td>{e.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

const KINDS: Record<string, string> = {
  claim: "Claim",
  reports: "Readings",
  update: "Update",
  copy: "Offline copy",
  "sign-in": "Sign-in",
  collect: "Collected",
};

function what(e: LogEntry): string {
  const kind = KINDS[e.kind] ?? e.kind;
  return e.subject.toLowerCase() === kind.toLowerCase() ? kind : `${kind}: ${e.subject}`;
}

/** "1 claim", "2 claims". */
function n(how: number, thing: string): string {
  return `${count(how)} ${thing}${how === 1 ? "" : "s"}`;
}

function claimState(c: ClaimRow): string {
  switch (c.state) {
    case "pending":
      if (c.reason?.startsWith("no network")) return "Pending: no network at the last try; it goes up by itself";
      return c.reason ? `Pending (last try: ${c.reason})` : "Pending until the cloud accepts it";
    case "accepted":
      return "Accepted";
    case "refused":
      return `Refused: ${c.reason ?? "no reason given"}`;
  }
}

function summaryText(s: SyncSummary): string {
  if (s.sign_in_again) return "Your sign-in has expired: sign in again. Everything stays queued.";
  if (s.stopped) return "No network: everything stays queued and goes up by itself when the network returns.";
  const parts = [
    s.claims_accepted && `${n(s.claims_accepted, "claim")} accepted`,
    s.claims_refused && `${n(s.claims_refused, "claim")} refused`,
    s.reports_sent && `${n(s.reports_sent, "report")} sent`,
    s.actions_sent && `${n(s.actions_sent, "update outcome")} sent`,
    s.reports_rejected && `${n(s.reports_rejected, "report")} refused by the cloud and kept aside`,
    s.reports_held.length && `${n(s.reports_held.length, "report")} held: ${s.reports_held.join("; ")}`,
    s.copy_refreshed && "offline copy refreshed",
  ].filter(Boolean);
  return parts.length ? `Synced: ${parts.join(", ")}.` : "Synced: nothing was waiting.";
}
