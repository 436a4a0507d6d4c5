// How numbers and dates read on screen.
const UNITS = ["bytes", "KB", "MB", "GB", "TB"];

export function bytes(count) {
  let value = Number(count);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

export function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** What a document's status says to a person, with the live detail from its events. */
export function statusText(status, live) {
  if (live?.status === "PROCESSING" && live.pages) return `Processing page ${live.page} of ${live.pages}`;
  switch (live?.status || status) {
    case "PENDING_UPLOAD":
      return "Waiting for the upload";
    case "PROCESSING":
      return "Processing";
    case "READY":
      return "Ready";
    case "FAILED":
      return `Failed: ${live?.reason || "processing failed"}`;
    case "REJECTED":
      return "Refused";
    case "DELETED":
      return "Deleted";
    default:
      return status;
  }
}
