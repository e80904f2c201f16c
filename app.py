"""CNN Architecture Explorer: ``python app.py`` serves the page (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT set
host and port; default 127.0.0.1:7860)."""
import explorer.ui.zerogpu  # noqa: F401  (first: on ZeroGPU, `spaces` must be imported before CUDA is touched)
from explorer.ui.app import build_app, launch_options

if __name__ == "__main__":
    build_app().launch(**launch_options())
