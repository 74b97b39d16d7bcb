"""The dashboard's logic, without Streamlit: what ``components`` and ``pages`` draw comes from here.

- Models: ``layers.py`` (what a layer is, and Dense; ``norm_layers.py``: Dropout and the normalisations;
  ``conv_layers.py``: the layers that work on images; ``layer_kinds.py``: the registry of every kind;
  ``shapes.py``: each layer's input and output shape; ``layer_items.py``: a stack as text), ``spec.py`` (the
  model a person edits, validated), ``presets.py`` (ready-made models), ``flax_layers.py`` and ``models.py``
  (the flax modules), ``tasks.py`` (what each kind is trained to do), ``costs.py`` (parameters, memory, FLOPs),
  ``variables.py`` (a variables tree), ``links.py`` (a model as a URL).
- Data and training: ``data/`` (named datasets), ``training/`` (the engine, sweeps), ``runs/`` (background
  jobs, saved runs, checkpoints).
- Using a model: ``predict.py``, ``inside.py`` (every layer's output), ``live.py`` (the live views),
  ``latent.py`` (an autoencoder's latent space), ``canvas.py`` (a drawn digit), ``ablation.py`` (units
  switched off, which units matter, pruning).
- Taking a model elsewhere: ``nnx_models.py`` (the same model in flax NNX), ``code_export.py`` (standalone
  training scripts, linen or NNX), ``onnx_export.py`` (ONNX, checked with onnxruntime; its halves
  ``onnx_graphs.py`` and ``onnx_check.py``).
- Words: ``glossary.py`` (a plain-words meaning of each term a newcomer meets).
- Input and errors: ``validate.py`` (raw input to checked values), ``errors.py`` (the error types).
- Languages: ``i18n.py`` (the translation catalogues in ``locales/``, compiled with Babel), ``reasons.py``
  (why a training run ended or waits, and those words in another language).
- The process: ``jax_setup.py`` (the compilation cache), ``collector.py`` and ``heap.py`` (memory back to
  the system), ``files.py`` (atomic writes), ``cli.py`` / ``__main__.py`` (``python -m core``;
  ``cli_arguments.py``: its arguments; ``cli_inputs.py``: what they describe).
"""
