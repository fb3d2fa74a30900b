"""Times iotile-core's own SignedListReport decoder (decode + verify, + decrypt for user-key
reports) on the same bytes as our P1 bench. Prints `P1 <case> iotile_core_ns=<ns per report>`."""

import os
import sys
import timeit

from iotile.core.hw.reports.signed_list_format import SignedListReport

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = [
    ("hash_only", os.path.join(ROOT, "..", "shared", "vectors", "iotile", "signed_list_hash_3.bin")),
    ("user_key", os.path.join(ROOT, "bench", "data", "signed_list_userkey_200.bin")),
]
# The user key of bench/data/signed_list_userkey_200.bin (device 0x00C0FFEE), as coretools reads it.
os.environ["USER_KEY_00C0FFEE"] = "5e" * 32


def main():
    for name, path in CASES:
        data = bytearray(open(path, "rb").read())
        report = SignedListReport(data)
        if not report.verified or len(report.visible_readings) != 200:
            sys.exit(f"{name}: iotile-core did not verify {path}")
        timer = timeit.Timer(lambda: SignedListReport(data))
        number, _ = timer.autorange()
        best = min(timer.repeat(repeat=5, number=number)) / number
        print(f"P1 {name} iotile_core_ns={best * 1e9:.0f}")


if __name__ == "__main__":
    main()
