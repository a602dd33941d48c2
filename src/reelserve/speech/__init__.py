"""Speech for voice_list: the script parser (script.py, timing.py), the stage the worker runs after the
engine (stage.py, mix.py) and its backends (backends/): `approximate` (espeak-ng moved toward the sample
with the WORLD vocoder, no weights), `vibevoice` and `pocket-tts` (transformers models that clone the
sample, run in a resident child process).

Importing this package is cheap: pyworld, espeak-ng and torch are touched only when speech is made.
"""
