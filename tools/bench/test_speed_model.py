"""Checks of speed_model's bookkeeping against counts worked out by hand (no dato binary needed).

Run: /work/venv/bin/python -m unittest discover -s tools/bench -p 'test_*.py'
"""
import unittest

import speed_model

# Factors in which a full call costs 1, depth 2 0.3, depth 1 0.1, a repeat 0; every pruned block saves 0.01
# (inline) or 0.02 (a reused AT-EDM mask) of a full call, and MACs likewise.
SAVE = {"dato:0.5:inline": 0.01, "atedm:0.5:inline": 0.01, "atedm:0.5:reuse": 0.02}
FACTORS = {"rho": {12: 1.0, 2: 0.3, 1: 0.1, 0: 0.0}, "mac": {12: 1.0, 2: 0.2, 1: 0.05, 0: 0.0},
           "save": SAVE, "macsave": SAVE}


def plms(depths, method=None, ratio=0.5):
    """A resolved 50-step PLMS plan (51 calls)."""
    return {"depths": depths, "ratios": [ratio] * 50 if method else [], "method": method}


class SpeedModelTests(unittest.TestCase):
    def test_plms_calls_map_to_steps(self):
        self.assertEqual([speed_model.step_of_call(k, 51, 50) for k in range(5)], [0, 1, 1, 2, 3])
        self.assertEqual(speed_model.step_of_call(50, 51, 50), 49)

    def test_depths_without_pruning(self):
        depths = [12, 2, 2, 12] + [1] * 40 + [0] * 7
        speed, mac = speed_model.predict(plms(depths), FACTORS)
        self.assertAlmostEqual(speed, 51 / (2 + 0.6 + 4.0))
        self.assertAlmostEqual(mac, (2 + 0.4 + 2.0) / 51)

    def test_dato_prunes_the_level0_blocks_each_depth_runs(self):
        # Depth 12 runs all five level-0 blocks, depth 2 three, depth 1 one (up_blocks.3.attentions.2).
        depths = [12] * 11 + [2] * 20 + [1] * 20
        speed, _ = speed_model.predict(plms(depths, "dato"), FACTORS)
        time = 11 + 6 + 2 - 0.01 * (11 * 5 + 20 * 3 + 20 * 1)
        self.assertAlmostEqual(speed, 51 / time)

    def test_atedm_dsap_leaves_two_blocks_dense_in_early_steps(self):
        # tau 0.3 of 50 steps: steps 0-14 are early, i.e. calls 0-15; they prune 3 blocks, the 35 others 5.
        speed, _ = speed_model.predict(plms([12] * 51, "atedm"), FACTORS)
        self.assertAlmostEqual(speed, 51 / (51 - 0.01 * (16 * 3 + 35 * 5)))
        # At depth 1 the only level-0 block is protected early, so early depth-1 calls save nothing.
        speed, _ = speed_model.predict(plms([12] + [1] * 50, "atedm"), FACTORS)
        self.assertAlmostEqual(speed, 51 / (1 - 0.03 + 5.0 - 0.01 * 35))

    def test_temporal_atedm_reuses_masks_between_refreshes(self):
        # Masks are computed at steps 0, 5, ..., 45 (10 calls) and reused on the 41 other calls; the protected
        # blocks start at step 15, a refresh step anyway.
        speed, _ = speed_model.predict(plms([12] * 51, "atedm,temporal"), FACTORS)
        early = 0.01 * 3 * 3 + 0.02 * 3 * 13      # steps 0-14: 3 refresh calls, 13 reuse calls (step 1 twice)
        late = 0.01 * 5 * 7 + 0.02 * 5 * 28       # steps 15-49: 7 refresh calls, 28 reuse calls
        self.assertAlmostEqual(speed, 51 / (51 - early - late))

    def test_unmodelled_options_are_refused(self):
        with self.assertRaises(speed_model.ModelError):
            speed_model.predict(plms([12] * 51, "atedm,levels=0+1"), FACTORS)

    def test_round_factors_from_bench_output(self):
        depth = "  depth {:2d}: {:8.3f} s   ({:.3f} of the full MACs)"
        run = "  {:60s} {:8.1f} s  speed-up     -  MAC ratio {:.3f}  (12x2)"
        cmd = speed_model.bench_command("dato", ["0.5"], "fp32", 2, 3)
        plans = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--accel"]
        times = {"temporal": (18.5, 0.93), "m:dato": (19.0, 0.95), "m:tome": (18.0, 0.9), "dsap=0": (19.5, 0.96),
                 "d:12*2": (20.0, 1.0)}   # first match wins: the temporal plan also holds dsap=0
        lines = [depth.format(12, 10, 1), depth.format(1, 2, 0.079)]
        for p in plans:
            t, m = next(v for k, v in times.items() if k in p)
            lines.append(run.format(p, t, m))
        f = speed_model.round_factors({"depths": {str(d): v for d, v in speed_model.parse_bench("\n".join(lines))[0].items()},
                                       "runs": speed_model.parse_bench("\n".join(lines))[1]}, ["0.5"])
        self.assertAlmostEqual(f["rho"][1], 0.2)
        self.assertAlmostEqual(f["save"]["dato:0.5:inline"], 0.05 / 5)
        self.assertAlmostEqual(f["save"]["tome:0.5:inline"], 0.1 / 5)
        # Temporal pair: refresh (inline, 0.975) + reuse = 2 * 0.925, so the reuse call is 0.875 of a full call.
        self.assertAlmostEqual(f["save"]["atedm:0.5:reuse"], 0.125 / 5)
        self.assertAlmostEqual(f["macsave"]["atedm:0.5:reuse"], (1 - (2 * 0.93 - 0.96)) / 5)


if __name__ == "__main__":
    unittest.main()
