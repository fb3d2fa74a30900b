// The PODs heard on the radio, live: each a large row leading to its page, with its signal,
// whether it has data waiting and what the copy knows of its claim. Sorted by signal or id,
// filtered by text or to those with data.
import { useMemo, useState } from "preact/hooks";
import type { NearbyPod } from "../bindings";
import { claimText, count } from "../format";
import { SignalBars } from "../parts/signal";
import { useNearby } from "../parts/use-nearby";

type Sort = "signal" | "id";

export function Nearby() {
  const { pods, error } = useNearby();
  const [sort, setSort] = useState<Sort>("signal");
  const [text, setText] = useState("");
  const [withData, setWithData] = useState(false);

  const shown = useMemo(() => {
    const needle = text.trim().toLowerCase();
    const list = (pods ?? []).filter(
      (p) =>
        (!withData || p.has_data) &&
        (!needle || `${p.slug} ${p.label ?? ""} ${p.device.toString(16)} ${claimText(p.claim)}`.toLowerCase().includes(needle)),
    );
    return list.sort((a, b) => (sort === "signal" ? b.rssi - a.rssi : a.device - b.device));
  }, [pods, sort, text, withData]);

  return (
    <>
      {error && (
        <p class="error" role="alert">
          The radio could not start: {error}
        </p>
      )}
      <div class="filters" role="group" aria-label="Sort and filter">
        <div class="field">
          <label for="pod-filter">Find</label>
          <input
            id="pod-filter"
            type="search"
            placeholder="id, label or project"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="pod-sort">Order</label>
          <select id="pod-sort" value={sort} onChange={(e) => setSort(e.currentTarget.value as Sort)}>
            <option value="signal">Strongest signal first</option>
            <option value="id">By id</option>
          </select>
        </div>
        <label class="check">
          <input type="checkbox" checked={withData} onChange={(e) => setWithData(e.currentTarget.checked)} />
          With data only
        </label>
      </div>
      <p class="count" aria-live="polite" id="nearby-count">
        {pods === undefined
          ? "Listening…"
          : `${count(pods.length)} POD${pods.length === 1 ? "" : "s"} heard${shown.length !== pods.length ? `, ${count(shown.length)} shown` : ""}`}
      </p>
      {pods !== undefined && pods.length === 0 ? (
        <div class="empty" id="nearby-empty">
          <h2>No PODs heard yet</h2>
          <ul>
            <li>Is the radio plugged in? (A USB dongle, or this laptop's Bluetooth switched on.)</li>
            <li>Move closer: PODs are heard within about 10 m, less through concrete.</li>
            <li>A POD with a flat battery stays silent.</li>
          </ul>
        </div>
      ) : (
        <ul class="pods" id="pods">
          {shown.map((pod) => (
            <PodRow key={pod.device} pod={pod} />
          ))}
        </ul>
      )}
    </>
  );
}

function PodRow({ pod }: { pod: NearbyPod }) {
  return (
    <li>
      <a class="pod-row" href={`#/device/${pod.device}`} data-device={pod.device}>
        <span class="pod-name">
          <strong>{pod.slug}</strong>
          {pod.label && <span class="label">{pod.label}</span>}
        </span>
        <SignalBars rssi={pod.rssi} />
        <span class="pod-facts">
          {pod.has_data ? <span class="badge data">Data waiting</span> : <span class="badge">No new data</span>}
          {pod.busy && <span class="badge">In use by another device</span>}
          <span class={`claim claim-${pod.claim.state}`}>{claimText(pod.claim)}</span>
        </span>
      </a>
    </li>
  );
}
