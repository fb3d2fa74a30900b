// The shell: the app's name, the navigation between screens, and the current screen.
// The screen is named by the address fragment (`#/about`), so reloading keeps it.
import { useEffect, useRef, useState } from "preact/hooks";
import { screens, type Screen } from "./screens";

const APP_NAME = "IOTile Field";

function current(): Screen {
  const id = location.hash.replace(/^#\/?/, "");
  // `screens` is never empty: About is always there.
  return screens.find((s) => s.id === id) ?? screens[0]!;
}

export function App() {
  const [screen, setScreen] = useState(current);
  const heading = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);

  useEffect(() => {
    const onHash = () => setScreen(current());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    document.title = `${screen.title} · ${APP_NAME}`;
    // After a move (not at start), focus the new heading so a screen reader reads it.
    if (!first.current) heading.current?.focus();
    first.current = false;
  }, [screen]);

  const Body = screen.component;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="brand">{APP_NAME}</header>
      <nav class="nav" aria-label="Screens">
        <ul>
          {screens.map((s) => (
            <li key={s.id}>
              <a href={`#/${s.id}`} aria-current={s.id === screen.id ? "page" : undefined}>
                {s.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" class="main">
        <h1 ref={heading} tabIndex={-1}>
          {screen.title}
        </h1>
        <Body />
      </main>
    </div>
  );
}
