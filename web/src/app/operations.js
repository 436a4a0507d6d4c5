// The operations the app sends: the documents in gql/operations/, the project's one source of
// truth (the tests and the README use the same files), imported as text at build time.
export { default as Me } from "../../../gql/operations/accounts/Me.graphql?raw";
export { default as SignIn } from "../../../gql/operations/accounts/SignIn.graphql?raw";
export { default as SignOut } from "../../../gql/operations/accounts/SignOut.graphql?raw";
export { default as SignUp } from "../../../gql/operations/accounts/SignUp.graphql?raw";
export { default as Dashboard } from "../../../gql/operations/dashboard/Dashboard.graphql?raw";
export { default as DeleteDocument } from "../../../gql/operations/documents/DeleteDocument.graphql?raw";
export { default as Document } from "../../../gql/operations/documents/Document.graphql?raw";
export { default as Documents } from "../../../gql/operations/documents/Documents.graphql?raw";
export { default as MoveDocument } from "../../../gql/operations/documents/MoveDocument.graphql?raw";
export { default as UpdateDocument } from "../../../gql/operations/documents/UpdateDocument.graphql?raw";
export { default as DocumentEvents } from "../../../gql/operations/events/DocumentEvents.graphql?raw";
export { default as QuotaEvents } from "../../../gql/operations/events/QuotaEvents.graphql?raw";
export { default as AbortUpload } from "../../../gql/operations/multipart/AbortUpload.graphql?raw";
export { default as CompleteMultipartUpload } from "../../../gql/operations/multipart/CompleteMultipartUpload.graphql?raw";
export { default as RequestMultipartUpload } from "../../../gql/operations/multipart/RequestMultipartUpload.graphql?raw";
export { default as SignUploadParts } from "../../../gql/operations/multipart/SignUploadParts.graphql?raw";
export { default as UploadedParts } from "../../../gql/operations/multipart/UploadedParts.graphql?raw";
export { default as UpgradePlan } from "../../../gql/operations/plans/UpgradePlan.graphql?raw";
export { default as Search } from "../../../gql/operations/search/Search.graphql?raw";
export { default as CompleteUpload } from "../../../gql/operations/uploads/CompleteUpload.graphql?raw";
export { default as RequestUpload } from "../../../gql/operations/uploads/RequestUpload.graphql?raw";
export { default as DocumentVersions } from "../../../gql/operations/versions/DocumentVersions.graphql?raw";
export { default as RestoreVersion } from "../../../gql/operations/versions/RestoreVersion.graphql?raw";
