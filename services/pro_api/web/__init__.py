"""The patient's phone app under ``/app/``: static files, no build step, no external CDN."""
