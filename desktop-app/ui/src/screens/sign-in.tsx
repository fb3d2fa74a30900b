// Signing in: the cloud's address, email and password. It needs the network once; after
// that the app works from its offline copy. A failure (no network, wrong password) is said
// next to the form, and the form keeps what was typed.
import { useState } from "preact/hooks";
import { commands, type SessionView } from "../bindings";
import { useSession } from "../session";

export function SignIn({ session, onOffline }: { session: SessionView | null; onOffline?: () => void }) {
  const { refresh } = useSession();
  const [cloud, setCloud] = useState(session?.cloud ?? "");
  const [email, setEmail] = useState(session?.email ?? "");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const result = await commands.signIn(cloud, email, password);
    setBusy(false);
    if (result.status === "error") {
      setError(
        result.error.code === "offline"
          ? `The cloud could not be reached: check the network and the address. (${result.error.message})`
          : result.error.message.charAt(0).toUpperCase() + result.error.message.slice(1),
      );
      return;
    }
    setPassword("");
    await refresh();
  };

  return (
    <>
      {session?.token === "expired" ? (
        <p class="notice" id="sign-in-again">
          Your sign-in has expired: sign in again to send what waits. Nothing on this laptop is lost.
        </p>
      ) : (
        <p>Sign in once with the network; after that the app works in the basement too.</p>
      )}
      <form class="form" onSubmit={submit} aria-describedby="sign-in-error" aria-busy={busy}>
        <label for="cloud">Cloud address</label>
        <input
          id="cloud"
          name="cloud"
          type="url"
          required
          placeholder="https://cloud.example.com"
          autocomplete="url"
          value={cloud}
          onInput={(e) => setCloud(e.currentTarget.value)}
        />
        <label for="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          required
          autocomplete="username"
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          required
          autocomplete="current-password"
          aria-describedby="sign-in-error"
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <div class="actions">
          <button type="submit" id="sign-in" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
          {onOffline && (
            <button type="button" class="quiet" onClick={onOffline}>
              Keep working offline
            </button>
          )}
        </div>
        <p id="sign-in-error" class="error" role="alert" aria-live="polite">
          {error}
        </p>
      </form>
    </>
  );
}
