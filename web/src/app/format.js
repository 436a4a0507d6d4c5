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

// The pipeline's reasons that are codes (see the schema's failureReason), as words; the others
// are phrases already ("not a valid PDF").
const REASONS = {
  WRONG_TYPE: "the file is not what its type says",
  TOO_LARGE: "the file is larger than allowed",
  OVER_QUOTA: "it would pass your plan's storage limit",
  MISSING_OBJECT: "the file never reached storage",
  CANCELLED: "the upload was cancelled",
};

export function reasonText(reason) {
  if (!reason) return "processing failed";
  if (REASONS[reason]) return REASONS[reason];
  return /^[A-Z_]+$/.test(reason) ? reason.toLowerCase().replaceAll("_", " ") : reason;
}

/** What a document's status says to a person, with the live detail from its events. */
export function statusText(status, live, failureReason) {
  if (live?.status === "PROCESSING" && live.pages) return `Processing page ${live.page} of ${live.pages}`;
  switch (live?.status || status) {
    case "PENDING_UPLOAD":
      return "Waiting for the upload";
    case "PROCESSING":
      return "Processing";
    case "READY":
      return "Ready";
    case "FAILED":
      return `Failed: ${reasonText(live?.reason || failureReason)}`;
    case "REJECTED":
      return `Refused: ${reasonText(failureReason)}`;
    case "DELETED":
      return "Deleted";
    default:
      return status;
  }
}
