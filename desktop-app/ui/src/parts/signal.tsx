// A POD's signal: four bars and the words, so it never rests on colour or shape alone.
import { signal } from "../format";

export function SignalBars({ rssi }: { rssi: number }) {
  const { bars, word } = signal(rssi);
  return (
    <span class="signal">
      <span class="bars" aria-hidden="true">
        {[1, 2, 3, 4].map((n) => (
          <span key={n} class={`bar b${n}${n <= bars ? " on" : ""}`} />
        ))}
      </span>
      <span>
        {word} signal, {rssi} dBm
      </span>
    </span>
  );
}
