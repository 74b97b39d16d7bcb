"""treescope's view of the variables: every kernel summarised, inside a scrolling box."""

from components.tree_view import treescope_html
from core import models
from core.spec import ModelSpec


def test_every_kernel_of_the_default_model_is_summarised_in_a_scrolling_box():
    variables = models.init_variables(ModelSpec.mlp((512, 256)))  # kernels of 401,408 and 131,072 numbers
    html = treescope_html(variables, 420, compressed=False)
    assert "too large to summarize" not in html
    assert html.count("zero") >= 3  # the summaries ("... zero") of the zero-initialised biases are there
    assert html.startswith('<div style="height: 410px; overflow: auto;')
