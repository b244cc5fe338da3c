"""Headless Debian Chromium for the browser tests, with a fake microphone playing a WAV.

Playwright drives ``/usr/bin/chromium`` (``make browser``); its own browser download is never
used. The fake capture device loops ``fake_wav``; autoplay is allowed so the page can play audio.
"""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def launch(pw, fake_wav: Path):
    """A headless Chromium whose ``getUserMedia`` hears ``fake_wav`` (permission granted)."""
    return pw.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-audio-capture={fake_wav}",
              "--autoplay-policy=no-user-gesture-required", "--no-sandbox", "--disable-gpu",
              "--disable-background-networking", "--disable-component-update", "--no-first-run"])
