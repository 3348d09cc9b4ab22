"""Write the raw files that examples/study.yaml refers to, with the project's simulator.

Recordings are generated, not kept in git: ``python examples/make_example_raw.py`` writes them into
``examples/raw/`` (or into the ``raw/`` folder beside a copy of this script).
"""

from datetime import datetime
from pathlib import Path

import numpy as np

from nwb_ketamine.simulate.abf import ProtocolSpec, simulate_protocol, write_abf
from nwb_ketamine.simulate.parameters import SliceParameters

# (file, protocol, holding potential mV, amplitude pA (signed), decay s, wall-clock start as the rig stores it)
FILES = [
    ("m01_s1_c1_ampa.abf", "AMPA-EPSC", -70.0, -120.0, 0.005, datetime(2024, 2, 15, 10, 30)),
    ("m01_s1_c1_nmda.abf", "NMDA-EPSC", 40.0, 110.0, 0.085, datetime(2024, 2, 15, 10, 40)),
    ("m02_s2_c1_ampa.abf", "AMPA-EPSC", -70.0, -180.0, 0.005, datetime(2024, 2, 16, 10, 30)),
]


RAW = Path(__file__).resolve().parent / "raw"


def main(out: Path = RAW) -> None:
    out.mkdir(parents=True, exist_ok=True)
    params = SliceParameters()
    for seed, (name, protocol, holding_mv, amplitude, decay, start) in enumerate(FILES):
        spec = ProtocolSpec(
            protocol=protocol,
            holding_mv=holding_mv,
            n_sweeps=10,
            amplitude_pa=amplitude,
            rise_s=0.001 if holding_mv < 0 else 0.007,
            decay_s=decay,
            latency_s=0.0025,
            rs_mohm=15.0,
            rs_drift_per_sweep=0.002,
            rm_mohm=600.0,
            cm_pf=15.0,
            holding_current_pa=-30.0 if holding_mv < 0 else 80.0,
            spontaneous=holding_mv < 0,
        )
        sweeps, _ = simulate_protocol(spec, params, np.random.default_rng(seed))
        write_abf(out / name, sweeps, params, start_time=start, protocol=protocol, holding_mv=holding_mv)
    print(f"wrote {len(FILES)} ABF files into {out}")


if __name__ == "__main__":
    main()
