"""CNN Architecture Explorer: ``python app.py`` serves the page (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT set
host and port; default 127.0.0.1:7860). The limits of a shared server come from EXPLORER_* variables (README: "In
a classroom, on a LAN, and as a Hugging Face Space")."""
import explorer.ui.zerogpu  # noqa: F401  (first: on ZeroGPU, `spaces` must be imported before CUDA is touched)
from explorer.server import ServerSettings
from explorer.ui.app import build_app, freeze_startup_heap, launch_options


def describe_limits() -> str:
    """One line on the limits in force, printed at start so the teacher sees them."""
    settings = ServerSettings.from_env()
    rows = "; ".join(f"{name} {value}" for name, value in settings.summary_rows())
    teacher = "Teacher tab on" if settings.admin_password else "Teacher tab off (set EXPLORER_ADMIN_PASSWORD)"
    return f"Limits: {rows}. {teacher}."


if __name__ == "__main__":
    print(describe_limits(), flush=True)
    demo = build_app()
    freeze_startup_heap()  # full garbage collections no longer stall an edit for a quarter of a second
    demo.launch(**launch_options())
