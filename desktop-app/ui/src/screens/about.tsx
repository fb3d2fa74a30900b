// The start screen: which build this is and where it keeps its data, for a technician
// reporting a problem or backing up the app's files.
import { useEffect, useState } from "preact/hooks";
import { commands, type AppInfo } from "../bindings";

export function About() {
  const [info, setInfo] = useState<AppInfo>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    commands.appInfo().then(setInfo, (e: unknown) => setError(String(e)));
  }, []);

  if (error) return <p role="alert">The app could not describe itself: {error}</p>;
  if (!info) return <p aria-busy="true">Loading…</p>;
  return (
    <>
      <p>A field tool for IOTile PODs: find them nearby, claim them, collect their readings, update them and sync with the cloud.</p>
      <dl class="facts">
        <dt>Version</dt>
        <dd id="version">{info.version}</dd>
        <dt>Data directory</dt>
        <dd id="data-dir">
          <code>{info.data_dir}</code>
        </dd>
      </dl>
    </>
  );
}
