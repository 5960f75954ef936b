"""The README's example runs and does what it says."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[3] / "README.md"


def test_readme_example_fits_the_decay_model():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has a python example"
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    result = namespace["result"]
    np.testing.assert_allclose(result.x, [0.7, 3.0], rtol=1e-3)
    assert result.value < 1e-3
