"""Procedural captioned images for the demo model: one shape on a plain background, 64x64 RGB.

Every sample is a pure function of (seed, index): the same seed always gives the same images and captions.
Caption: "a {size} {colour} {shape} at the {position} on a {background} background".
"""
import numpy as np

SHAPES = ["circle", "square", "triangle"]
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (50, 80, 230), "yellow": (235, 215, 40),
           "purple": (150, 60, 190), "white": (240, 240, 240)}
BACKGROUNDS = {"black": (15, 15, 15), "gray": (110, 110, 110), "blue": (30, 40, 120), "green": (30, 90, 40)}
SIZES = {"small": 8.0, "large": 14.0}          # radius in pixels at 64x64
POSITIONS = {"top left": (0.27, 0.27), "top right": (0.27, 0.73), "bottom left": (0.73, 0.27),
             "bottom right": (0.73, 0.73), "center": (0.5, 0.5)}   # (row, column) as fractions
ATTRIBUTES = ["shape", "colour", "size", "position", "background"]
VOCAB = {"shape": SHAPES, "colour": list(COLOURS), "size": list(SIZES), "position": list(POSITIONS), "background": list(BACKGROUNDS)}


def caption(a):
    return f"a {a['size']} {a['colour']} {a['shape']} at the {a['position']} on a {a['background']} background"


def sample_attributes(rng):
    a = {k: v[rng.integers(len(v))] for k, v in VOCAB.items()}
    while COLOURS[a["colour"]] == BACKGROUNDS.get(a["background"]) or (a["colour"], a["background"]) in (("blue", "blue"), ("green", "green")):
        a["background"] = list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))]
    return a


def render(a, rng, size=64, supersample=4):
    """Draws the shape with a little jitter in place and size, antialiased by supersampling, plus faint noise."""
    s = size * supersample
    cy, cx = POSITIONS[a["position"]]
    cy = (cy + rng.uniform(-0.04, 0.04)) * s
    cx = (cx + rng.uniform(-0.04, 0.04)) * s
    r = SIZES[a["size"]] * rng.uniform(0.9, 1.1) * supersample
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
    if a["shape"] == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    elif a["shape"] == "square":
        h = r * 0.89
        mask = (np.abs(yy - cy) <= h) & (np.abs(xx - cx) <= h)
    else:   # upward triangle inscribed in the circle of radius r
        top, base = cy - r, cy + 0.5 * r
        half = (yy - top) / (base - top) * r * 0.866
        mask = (yy >= top) & (yy <= base) & (np.abs(xx - cx) <= half)
    mask = mask.reshape(size, supersample, size, supersample).mean(axis=(1, 3))[..., None]
    bg = np.array(BACKGROUNDS[a["background"]], np.float32)
    fg = np.array(COLOURS[a["colour"]], np.float32)
    img = bg * (1 - mask) + fg * mask + rng.normal(0, 3, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def sample(seed, index):
    """(image uint8 [64, 64, 3], caption, attributes) of sample `index` of the stream `seed`."""
    rng = np.random.default_rng([seed, index])
    a = sample_attributes(rng)
    return render(a, rng), caption(a), a


def batch(seed, start, count):
    items = [sample(seed, i) for i in range(start, start + count)]
    return np.stack([x[0] for x in items]), [x[1] for x in items], [x[2] for x in items]


if __name__ == "__main__":   # python shapes.py SEED COUNT: the captions of a stream, one per line
    import sys
    stream, count = int(sys.argv[1]), int(sys.argv[2])
    print("\n".join(sample(stream, i)[1] for i in range(count)))
