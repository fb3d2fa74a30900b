// Who is signed in, shared by the shell and the screens; refreshed after sign-in, sign-out,
// on every `SyncChanged` (a sync may refresh the copy or find the token expired) and each
// half minute so "copy from 3 min ago" stays true.
import { createContext, type ComponentChildren } from "preact";
import { useCallback, useContext, useEffect, useState } from "preact/hooks";
import { commands, events, type SessionView } from "./bindings";

export type SessionState = {
  /** `undefined` while loading, `null` when nobody ever signed in. */
  session: SessionView | null | undefined;
  refresh: () => Promise<void>;
};

const Context = createContext<SessionState>({ session: undefined, refresh: async () => {} });

export function SessionProvider({ children }: { children: ComponentChildren }) {
  const [session, setSession] = useState<SessionView | null | undefined>(undefined);
  const refresh = useCallback(async () => {
    const got = await commands.session();
    setSession(got.status === "ok" ? got.data : null);
  }, []);

  useEffect(() => {
    void refresh();
    const unlisten = events.syncChanged.listen(() => void refresh());
    const tick = setInterval(() => void refresh(), 30_000);
    return () => {
      clearInterval(tick);
      void unlisten.then((f) => f());
    };
  }, [refresh]);

  return <Context.Provider value={{ session, refresh }}>{children}</Context.Provider>;
}

export function useSession(): SessionState {
  return useContext(Context);
}
