// The nearby list, live: starts the scan (it keeps running across screens), reads the list
// once, then follows `NearbyChanged`.
import { useEffect, useState } from "preact/hooks";
import { commands, events, type NearbyPod } from "../bindings";
import { problem } from "../format";

export type NearbyState = {
  /** `undefined` until the first list arrives. */
  pods: NearbyPod[] | undefined;
  /** Why the scan could not start (radio missing or failed). */
  error?: string;
};

export function useNearby(): NearbyState {
  const [pods, setPods] = useState<NearbyPod[]>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    let live = true;
    const unlisten = events.nearbyChanged.listen((e) => {
      if (live) setPods(e.payload);
    });
    void (async () => {
      const started = await commands.startScan();
      if (!live) return;
      if (started.status === "error") setError(problem(started.error));
      const listed = await commands.nearby();
      if (live && listed.status === "ok") setPods((now) => now ?? listed.data);
    })();
    return () => {
      live = false;
      void unlisten.then((f) => f());
    };
  }, []);

  return { pods, error };
}
