// One file straight to S3: requestUpload gives a signed form; the browser POSTs it with the file
// (XMLHttpRequest, for its upload progress events), then completeUpload counts it.
import { run } from "./client.js";
import { CompleteUpload, RequestUpload } from "./operations.js";

function post(form, file, onProgress) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    for (const { name, value } of form.fields) body.append(name, value);
    body.append("file", file); // S3 takes the file as the form's last field
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.url);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else if (xhr.status === 400 && /EntityTooLarge|EntityTooSmall/.test(xhr.responseText)) {
        reject(new Error("The file's size is not the size that was announced."));
      } else if (xhr.status === 403) reject(new Error("The upload form has expired. Please try again."));
      else reject(new Error(`Storage refused the file (HTTP ${xhr.status}).`));
    });
    xhr.addEventListener("error", () => reject(new Error("The file could not be sent to storage. Check your connection and try again.")));
    xhr.send(body);
  });
}

/** Upload ``file``: resolves to the document; rejects with an Error whose message is a sentence.
 * ``makePublic``: the Make Public box, a share link made once the upload completes. */
export async function uploadFile(client, file, tags, onProgress, makePublic = false) {
  const input = { filename: file.name, contentType: file.type || "application/octet-stream", size: file.size, tags };
  if (makePublic) input.public = true;
  const requested = await run(client, RequestUpload, { input }, "mutation");
  const form = requested.requestUpload;
  if (form.__typename !== "UploadForm") throw new Error(form.message);
  await post(form, file, onProgress);
  onProgress(1);
  const completed = (await run(client, CompleteUpload, { input: { documentId: form.documentId } }, "mutation")).completeUpload;
  if (completed.__typename !== "Document") throw new Error(completed.message);
  return completed;
}
