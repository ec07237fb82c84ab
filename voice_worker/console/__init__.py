"""The browser console at `/`: a page served by the worker itself (no CDN, works
offline) that talks to it over the realtime protocol."""
