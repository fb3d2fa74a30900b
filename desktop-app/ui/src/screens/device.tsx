// One POD's page, reached from Nearby (`#/device/<id>`): what the copy knows of its claim,
// and what a technician does to it: claim it into a project (queued until the cloud
// accepts), collect its readings with a progress bar, update it, and see its recent
// readings drawn from what this laptop collected, with no network.
import { useCallback, useEffect, useState } from "preact/hooks";
import {
  commands,
  events,
  type CollectProgress,
  type Collected,
  type CopyProject,
  type DeviceReadings,
  type UpdateOffer,
  type UpdateProgress,
  type UpdateResult,
} from "../bindings";
import { claimText, count, kib, problem, slug, when } from "../format";
import { StreamChart } from "../parts/chart";
import { SignalBars } from "../parts/signal";
import { useNearby } from "../parts/use-nearby";
import type { ScreenProps } from ".";

export function deviceHeading(param: string | undefined): string {
  const id = Number(param);
  return Number.isInteger(id) && id > 0 ? `POD ${slug(id)}` : "POD";
}

export function Device({ param }: ScreenProps) {
  const device = Number(param);
  const { pods } = useNearby();
  const [readingsKey, setReadingsKey] = useState(0);
  if (!Number.isInteger(device) || device <= 0) {
    return (
      <p>
        There is no such POD. <a href="#/nearby">Back to nearby PODs</a>
      </p>
    );
  }
  const pod = pods?.find((p) => p.device === device);

  return (
    <>
      <p>
        <a href="#/nearby" class="back">
          ← Nearby PODs
        </a>
      </p>
      <section class="pod-header" aria-label="Status">
        <p id="claim-status" aria-live="polite">
          {pod ? claimText(pod.claim) : pods === undefined ? "Listening…" : "Not heard right now: move closer to claim, collect or update it."}
        </p>
        {pod && <SignalBars rssi={pod.rssi} />}
        {pod?.label && <p>Label: {pod.label}</p>}
      </section>
      <Claim device={device} state={pod?.claim.state} />
      <Collect device={device} inRange={pod !== undefined} onDone={() => setReadingsKey((k) => k + 1)} />
      <Update device={device} inRange={pod !== undefined} />
      <Readings key={readingsKey} device={device} />
    </>
  );
}

function Claim({ device, state }: { device: number; state: string | undefined }) {
  const [projects, setProjects] = useState<CopyProject[]>();
  const [project, setProject] = useState("");
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    void commands.projects().then((got) => {
      if (got.status === "error") return setError(problem(got.error));
      setProjects(got.data);
      setProject(got.data[0]?.id ?? "");
    });
  }, []);

  const claim = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    const got = await commands.claim(device, project);
    if (got.status === "error") return setError(problem(got.error));
    const name = projects?.find((p) => p.id === project)?.name ?? "the project";
    setMessage(`Claim into ${name} queued: pending until the cloud accepts it. It goes up by itself with the network.`);
  };

  return (
    <section class="card" aria-labelledby="claim-heading">
      <h2 id="claim-heading">Claim</h2>
      {state === "claimed" ? (
        <p>This POD is already claimed.</p>
      ) : projects && projects.length === 0 ? (
        <p>The offline copy has no project to claim into. Sync with the network to refresh it.</p>
      ) : (
        <form class="inline" onSubmit={claim} aria-describedby="claim-message">
          <div class="field">
            <label for="claim-project">Project</label>
            <select id="claim-project" value={project} onChange={(e) => setProject(e.currentTarget.value)}>
              {(projects ?? []).map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} ({p.org})
                </option>
              ))}
            </select>
          </div>
          <button type="submit" id="claim" disabled={!project}>
            {state === "pending" ? "Change project" : state === "refused" ? "Claim again" : "Claim"}
          </button>
        </form>
      )}
      <p id="claim-message" aria-live="polite" class={error ? "error" : undefined}>
        {error ?? message}
      </p>
    </section>
  );
}

function Collect({ device, inRange, onDone }: { device: number; inRange: boolean; onDone: () => void }) {
  const [progress, setProgress] = useState<CollectProgress>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Collected>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    const unlisten = events.collectProgressed.listen((e) => {
      if (e.payload.device === device) setProgress(e.payload);
    });
    return () => void unlisten.then((f) => f());
  }, [device]);

  const collect = async () => {
    setBusy(true);
    setResult(undefined);
    setError(undefined);
    setProgress(undefined);
    const got = await commands.collect(device);
    setBusy(false);
    if (got.status === "error") setError(problem(got.error));
    else setResult(got.data);
    onDone();
  };

  const holding = progress?.holding ?? null;
  // Stored readings, and those of the report still coming in, reckoned from its bytes.
  const seen = progress ? progress.readings + progress.readings_arriving : 0;
  // The POD's count is an estimate: past it, or without it, the bar only says "working".
  const known = holding !== null && holding > 0 && progress !== undefined && seen <= holding;
  return (
    <section class="card" aria-labelledby="collect-heading">
      <h2 id="collect-heading">Collect readings</h2>
      <button type="button" id="collect" onClick={collect} disabled={busy || !inRange}>
        {busy ? "Collecting…" : "Collect"}
      </button>
      {(busy || progress) && (
        <div class="progress">
          <label for="collect-progress">Collected so far</label>
          {result ? (
            <progress key="done" id="collect-progress" max={1} value={1} />
          ) : known ? (
            <progress key="known" id="collect-progress" max={holding} value={seen} />
          ) : (
            <progress key="unknown" id="collect-progress" />
          )}
        </div>
      )}
      <p id="collect-status" aria-live="polite">
        {progress &&
          !result &&
          `${count(seen)}${known ? ` of about ${count(holding)}` : ""} readings, ${kib(progress.received_bytes)} received, ${count(progress.readings)} stored`}
        {result &&
          `Done: ${count(result.readings)} readings in ${count(result.reports)} reports (${kib(result.bytes)}), kept on this laptop until the cloud has them.` +
            (result.rejected ? ` ${count(result.rejected)} reports failed their check and were kept aside.` : "")}
      </p>
      {error && (
        <p class="error" role="alert">
          Collecting failed: {error}
        </p>
      )}
    </section>
  );
}

const STEPS = ["checking", "sending", "triggered", "resetting", "rebooting", "succeeded"];
const STEP_WORDS: Record<string, string> = {
  checking: "Checking the POD against the update",
  sending: "Sending the update",
  triggered: "Starting the update",
  resetting: "Resetting",
  rebooting: "Restarting",
  succeeded: "Done",
  failed: "Failed",
};

function Update({ device, inRange }: { device: number; inRange: boolean }) {
  const [offers, setOffers] = useState<UpdateOffer[]>();
  const [last, setLast] = useState<UpdateProgress>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<UpdateResult>();
  const [error, setError] = useState<string>();

  const load = useCallback(() => {
    void commands.updateOffers(device).then((got) => {
      if (got.status === "error") setError(problem(got.error));
      else setOffers(got.data);
    });
  }, [device]);
  useEffect(() => {
    load();
    const unlisten = events.updateProgressed.listen((e) => {
      if (e.payload.device === device) setLast(e.payload);
    });
    return () => void unlisten.then((f) => f());
  }, [device, load]);

  const update = async () => {
    setBusy(true);
    setLast(undefined);
    setResult(undefined);
    setError(undefined);
    const got = await commands.update(device);
    setBusy(false);
    if (got.status === "error") setError(problem(got.error));
    else setResult(got.data);
    load();
  };

  const current = last?.step;
  const reached = current ? STEPS.indexOf(current) : -1;
  const sending = current === "sending" && last && last.script_bytes > 0 ? last : undefined;
  return (
    <section class="card" aria-labelledby="update-heading">
      <h2 id="update-heading">Update</h2>
      {offers === undefined ? null : offers.length === 0 ? (
        <p id="update-none">No update is offered for this POD.</p>
      ) : (
        <>
          <ul class="offers">
            {offers.map((o) => (
              <li key={o.deployment}>
                <strong>
                  {o.name} {o.version}
                </strong>{" "}
                ({count(o.records)} records){o.downloaded ? "" : " · not on this laptop yet: sync with the network first"}
                {o.job && ` · ${o.job}`}
              </li>
            ))}
          </ul>
          <button type="button" id="update" onClick={update} disabled={busy || !inRange}>
            {busy ? "Updating…" : "Update"}
          </button>
        </>
      )}
      {last && (
        <ol class="steps" aria-label="Update steps">
          {STEPS.map((s, i) => (
            <li
              key={s}
              class={i < reached ? "done" : i === reached ? "now" : undefined}
              aria-current={i === reached ? "step" : undefined}
            >
              {STEP_WORDS[s]}
              {i < reached ? " ✓" : ""}
              {s === "sending" && sending && <Sending progress={sending} />}
            </li>
          ))}
          {current === "failed" && (
            <li class="now" aria-current="step">
              {STEP_WORDS.failed}
            </li>
          )}
        </ol>
      )}
      <p id="update-status" aria-live="polite" class={result?.result === "failed" || error ? "error" : undefined}>
        {error ? `The update could not run: ${error}` : result ? updateText(result) : ""}
      </p>
    </section>
  );
}

/** The script going over: records the POD has taken whole, and bytes. */
function Sending({ progress }: { progress: UpdateProgress }) {
  return (
    <div class="progress">
      <label for="update-progress">
        Record {count(progress.records_sent)} of {count(progress.records)} sent ({kib(progress.bytes_sent)} of{" "}
        {kib(progress.script_bytes)})
      </label>
      <progress id="update-progress" max={progress.script_bytes} value={progress.bytes_sent} />
    </div>
  );
}

function updateText(result: UpdateResult): string {
  switch (result.result) {
    case "succeeded":
      return "The update succeeded. The cloud is told with the next sync.";
    case "failed":
      return `The update failed: ${result.reason}. The POD keeps its old firmware.`;
    case "nothing_to_do":
      return `Nothing to do: ${result.why}`;
    case "later":
      return `Not now: ${result.why}`;
  }
}

function Readings({ device }: { device: number }) {
  const [readings, setReadings] = useState<DeviceReadings>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    void commands.readings(device).then((got) => {
      if (got.status === "error") setError(problem(got.error));
      else setReadings(got.data);
    });
  }, [device]);

  return (
    <section class="card" aria-labelledby="readings-heading">
      <h2 id="readings-heading">Recent readings</h2>
      {error && <p class="error">{error}</p>}
      {readings && readings.streams.length === 0 && (
        <p>Nothing collected from this POD on this laptop yet{readings.encrypted_reports ? " that this laptop can read" : ""}.</p>
      )}
      {readings?.last_collected_ms != null && <p>Last collected {when(readings.last_collected_ms)}.</p>}
      {readings?.encrypted_reports ? (
        <p>{count(readings.encrypted_reports)} reports are encrypted: only the cloud can read them.</p>
      ) : null}
      {readings?.streams.map((s) => <StreamChart key={s.stream} stream={s} />)}
    </section>
  );
}
