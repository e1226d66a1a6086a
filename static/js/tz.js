// The browser's time zone, for the server to show dates in it (config/middleware.py: BrowserTimezoneMiddleware).
(() => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  const secure = window.location.protocol === "https:" ? "; secure" : "";
  document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax${secure}`;
})();
