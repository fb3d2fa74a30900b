// The shell: the app's name, who is signed in, the navigation between screens, and the
// current screen. The screen is named by the address fragment (`#/sync`, `#/device/177`),
// so reloading keeps it. Before anyone signs in (or after signing out) the sign-in form
// takes the place of every screen but About.
import { useEffect, useRef, useState } from "preact/hooks";
import { commands, type SessionView } from "./bindings";
import { ago } from "./format";
import { screens, type Screen } from "./screens";
import { SignIn } from "./screens/sign-in";
import { SessionProvider, useSession } from "./session";

const APP_NAME = "IOTile Field";

type Route = { screen: Screen; param?: string };

function route(): Route {
  const [id, param] = location.hash.replace(/^#\/?/, "").split("/", 2);
  // `screens` is never empty: Nearby is always there.
  const screen = screens.find((s) => s.id === id) ?? screens[0]!;
  return { screen, param: param || undefined };
}

export function App() {
  return (
    <SessionProvider>
      <Shell />
    </SessionProvider>
  );
}

function Shell() {
  const { session } = useSession();
  const [at, setAt] = useState(route);
  // After an expired sign-in, the technician may keep working offline until they choose.
  const [offline, setOffline] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);

  useEffect(() => {
    const onHash = () => setAt(route());
    addEventListener("hashchange", onHash);
    // The address may have moved between the first render and now.
    onHash();
    return () => removeEventListener("hashchange", onHash);
  }, []);

  const gate =
    session !== undefined &&
    (session === null || session.token === "none" || (session.token === "expired" && !offline));
  const signingIn = gate && !at.screen.signedOut;
  const title = signingIn ? "Sign in" : (at.screen.heading?.(at.param) ?? at.screen.title);

  useEffect(() => {
    document.title = `${title} · ${APP_NAME}`;
    // After a move (not at start), focus the new heading so a screen reader reads it.
    if (!first.current) heading.current?.focus();
    first.current = false;
  }, [title, at]);

  const Body = at.screen.component;
  const listed = screens.filter((s) => s.nav && (!gate || s.signedOut));
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="brand">
        <span class="brand-name">{APP_NAME}</span>
        {session && !gate && <Status session={session} onSignInAgain={() => setOffline(false)} />}
      </header>
      <nav class="nav" aria-label="Screens">
        <ul>
          {gate && (
            <li>
              <a href="#/nearby" aria-current={signingIn ? "page" : undefined}>
                Sign in
              </a>
            </li>
          )}
          {listed.map((s) => (
            <li key={s.id}>
              <a
                href={`#/${s.id}`}
                aria-current={
                  !signingIn && (s.id === at.screen.id || (s.id === "nearby" && at.screen.id === "device"))
                    ? "page"
                    : undefined
                }
              >
                {s.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" class="main">
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {session === undefined ? (
          <p aria-busy="true">Loading…</p>
        ) : signingIn ? (
          <SignIn session={session} onOffline={session?.token === "expired" ? () => setOffline(true) : undefined} />
        ) : (
          <Body key={`${at.screen.id}/${at.param ?? ""}`} param={at.param} />
        )}
      </main>
    </div>
  );
}

/** Who is signed in, how old the offline copy is, and signing out. */
function Status({ session, onSignInAgain }: { session: SessionView; onSignInAgain: () => void }) {
  const { refresh } = useSession();
  const copy = session.copy_refreshed_at ? `copy from ${ago(session.copy_refreshed_at)}` : "no offline copy yet";
  const signOut = async () => {
    await commands.signOut();
    await refresh();
  };
  return (
    <div class="status" id="session-status">
      <p>
        <span class="who">{session.username || session.email}</span>
        <span class="copy">{copy}</span>
        {session.token === "expired" && (
          <button type="button" class="again" onClick={onSignInAgain}>
            Sign in again
          </button>
        )}
      </p>
      <button type="button" class="quiet" onClick={signOut}>
        Sign out
      </button>
    </div>
  );
}
