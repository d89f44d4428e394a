"""The one catalogue of refusal reasons: every reason any service or the gateway gives, with the
title a person reads (RFC 9457 `title`). Titles are English message ids translated by the kit's
Babel catalogue (`guichet_kit/locale`); a test fails when a reason raised anywhere is missing here
or when a title lacks its French or German translation.
"""

from __future__ import annotations

from guichet_kit.i18n import N_, Catalog, Language

KIT_CATALOG = Catalog("guichet_kit")

TITLES: dict[str, str] = {
    # --- generic: the gateway and the kit ---
    "VALIDATION_FAILED": N_("The data sent is not valid"),
    "NOT_FOUND": N_("Not found"),
    "METHOD_NOT_ALLOWED": N_("Method not allowed"),
    "HTTP_ERROR": N_("The request could not be handled"),
    "INTERNAL": N_("Internal error"),
    "DEPENDENCY_UNAVAILABLE": N_("A service needed for this is temporarily unavailable"),
    "DEPENDENCY_TIMEOUT": N_("A service needed for this did not answer in time, try again"),
    "UPSTREAM_FAILED": N_("A service needed for this failed"),
    "RPC_NOT_DECLARED": N_("This operation is not available"),
    "INVALID_CHARACTER": N_("The text contains a character that is not allowed"),
    "TEXT_TOO_LONG": N_("A text is too long"),
    "REQUEST_TOO_LARGE": N_("The request is too large"),
    "INVALID_LANGUAGE": N_("Unsupported language (fr, de or en)"),
    "LOOKUPS_RATE_LIMITED": N_("Too many lookups, try again in a minute"),
    "REGISTRATIONS_RATE_LIMITED": N_("Too many account requests, try again in a minute"),
    "CREATIONS_RATE_LIMITED": N_("Too many new trackings, try again in a minute"),
    "CHALLENGES_RATE_LIMITED": N_("Too many anti-robot checks asked, try again in a minute"),
    "RATE_LIMITED": N_("Too many requests, try again in a minute"),
    "ANTI_ROBOT_CHECK_FAILED": N_("The anti-robot check failed: solve a new challenge"),
    # --- who is calling ---
    "AUTHENTICATION_REQUIRED": N_("Sign in to do this"),
    "INVALID_TOKEN": N_("Your session is not valid any more: sign in again"),
    "TOKEN_REVOKED": N_("This account was deleted: sign in again"),
    "INSUFFICIENT_USER_AUTHENTICATION": N_("This needs a stronger sign-in"),
    "IDENTITY_PROVIDER_UNAVAILABLE": N_("The sign-in service cannot be reached, try again shortly"),
    "INVALID_ACTING_CONTEXT": N_("The space you act for is not valid"),
    "CSRF_TOKEN_INVALID": N_("This form has expired: open the page again and send it anew"),
    "SIGN_IN_FAILED": N_("The sign-in could not be completed: please start again"),
    "ACTING_CONTEXT_NOT_ALLOWED": N_("This cannot be done while acting for someone else"),
    "MANDATE_REFUSED": N_("You may not act for this person or company"),
    "ACTOR_MISMATCH": N_("You can only check your own mandates"),
    "CLIENT_CERTIFICATE_REQUIRED": N_("An administration's client certificate is required"),
    "SERVICE_CERTIFICATE_REQUIRED": N_("A platform service's certificate is required"),
    # --- eTracking ---
    "INVALID_TRACKING_NUMBER": N_(
        "This eTracking number is not valid: check it against your eTracking sheet"
    ),
    "TRACKING_NOT_FOUND": N_("No eTracking has this number"),
    "INVALID_TRACKING_REQUEST": N_("The tracking request has errors"),
    "INVALID_STATUS_UPDATE": N_("The status update has errors"),
    "TRANSITION_NOT_ALLOWED": N_("This status cannot follow the current one"),
    "NOT_COMPETENT": N_("This administration is not competent for this paper form"),
    # --- accounts ---
    "INVALID_REGISTRATION": N_("The registration has errors"),
    "NATIONAL_ID_TAKEN": N_("An account already exists for this national identification number"),
    "EMAIL_TAKEN": N_("This e-mail address is already used by another account"),
    "PASSWORD_POLICY": N_("The password does not meet the password rules"),
    "INVALID_ACCOUNT": N_("The account request has errors"),
    "INVALID_EMAIL": N_("The e-mail address is not valid"),
    "INVALID_PASSWORD_CHANGE": N_("The password change has errors"),
    "CURRENT_PASSWORD_WRONG": N_("The current password is wrong"),
    "EMAIL_UNCHANGED": N_("This is already your e-mail address"),
    "EMAIL_CHANGE_TOKEN_INVALID": N_("This confirmation link is not valid or has expired"),
    "ACCOUNT_NOT_FOUND": N_("No such account"),
    "NO_SUCH_ACCOUNT": N_("No account was found for this person"),
    "INVALID_DELETION_ID": N_("This deletion id is not valid"),
    "DELETION_NOT_FOUND": N_("No such account deletion"),
    "CONFIRMATION_MISMATCH": N_("The confirmation does not match"),
    "MAIL_UNAVAILABLE": N_("The e-mail could not be sent, try again shortly"),
    "IDENTITY_PROVIDER_ERROR": N_("The sign-in service refused the change"),
    # --- profiles and preferences ---
    "INVALID_PROFILE": N_("The profile has errors"),
    "PROFILE_NOT_FOUND": N_("No profile for this account"),
    "INVALID_PREFERENCES": N_("The preferences have errors"),
    "PHONE_REQUIRED": N_("SMS notifications need a mobile phone number"),
    # --- relations and mandates ---
    "INVALID_MANDATE": N_("The mandate has errors"),
    "INVALID_CHILD": N_("The child's details have errors"),
    "INVALID_RELATION_ID": N_("This relation id is not valid"),
    "INVALID_MANDATE_CHECK": N_("The mandate check has errors"),
    "RELATION_NOT_FOUND": N_("No such relation"),
    "RELATION_EXISTS": N_("This relation already exists"),
    "RIGHT_NOT_GRANTED": N_("This right is not granted"),
    "NO_SUCH_CONTEXT": N_("You may not act for this person or company"),
    "NOT_ALLOWED": N_("You may not do this"),
    "NOT_CHILD_IN_REGISTER": N_("The national register does not name you as this child's parent"),
    "REGISTERS_UNAVAILABLE": N_("The registers cannot be reached to check this, try again shortly"),
    # --- professional spaces ---
    "INVALID_SPACE_REQUEST": N_("The professional space request has errors"),
    "SPACE_NOT_FOUND": N_("No such professional space"),
    "SPACE_ADMINISTRATOR_REQUIRED": N_("Only an administrator of this space may do this"),
    "REGISTRY_NUMBER_TAKEN": N_("A professional space already exists for this company number"),
    "COMPANY_NOT_IN_REGISTER": N_("The company register has no company with this number"),
    "NOT_A_DIRECTOR": N_("Only a manager or director of the company may create its space"),
    "COLLABORATOR_NOT_FOUND": N_("No such collaborator in this space"),
    "COLLABORATOR_EXISTS": N_("This person is already a collaborator of this space"),
    "LAST_ADMINISTRATOR": N_("A space needs at least one administrator"),
    # --- wallet: pieces and copies ---
    "PIECE_NOT_FOUND": N_("No such piece in this wallet"),
    "FILE_NOT_FOUND": N_("No such file in this piece"),
    # Shared with procedures (a version of a procedure that was never published).
    "VERSION_NOT_FOUND": N_("No such version"),
    "UNKNOWN_PIECE_TYPE": N_("This type of piece does not exist"),
    "INVALID_PIECE": N_("The piece has errors"),
    "TOO_MANY_PIECES": N_("This wallet holds as many pieces as it may"),
    "TOO_MANY_FILES": N_("This piece holds as many files as it may"),
    "LAST_FILE_OF_PIECE": N_("A piece keeps at least one file"),
    "UPLOAD_HEADER_MISSING": N_("The upload does not start with its header"),
    "UPLOAD_HEADER_REPEATED": N_("The upload has more than one header"),
    "UPLOAD_TARGET_MISSING": N_("The upload does not say where the file goes"),
    "COPY_NOT_FOUND": N_("No such copy"),
    "INVALID_OWNER": N_("The owner is not valid"),
    "INVALID_COPY_REQUEST": N_("The copy request has errors"),
    "INVALID_EDOCUMENT": N_("The eDocument's description has errors"),
    "RECEIVED_DOCUMENT_UNCHANGEABLE": N_(
        "A document received from an administration keeps its file"
    ),
    # --- files: the wallet's file pipeline ---
    "FILE_TOO_LARGE": N_("The file is too large"),
    "FILE_EMPTY": N_("The file is empty"),
    "FILE_TYPE_NOT_ALLOWED": N_("This type of file is not accepted"),
    "FILE_TYPE_MISMATCH": N_("The file's content does not match its declared type"),
    "FILE_POLYGLOT": N_("The file hides another file inside it"),
    "ARCHIVE_BOMB": N_("The archive unpacks to too much"),
    "ARCHIVE_PATH_TRAVERSAL": N_("The archive holds an entry named outside its folder"),
    "ARCHIVE_INVALID": N_("The archive is damaged"),
    "FILE_INFECTED": N_("The file contains a virus"),
    "INVALID_FILE_NAME": N_("The file name is not valid"),
    "SCANNER_UNAVAILABLE": N_("Files cannot be checked for viruses at the moment, try again later"),
    "STORAGE_UNAVAILABLE": N_("The file store is unavailable at the moment, try again later"),
    "STORED_FILE_MISSING": N_("The file is no longer stored"),
    "COPY_RETAINED": N_("This copy is retained and cannot be removed yet"),
    # --- authentic data ---
    "PURPOSE_UNKNOWN": N_("This purpose is not in the registry of purposes"),
    "PURPOSE_NOT_GRANTED": N_("This purpose is not granted to the caller"),
    "FIELD_OUTSIDE_PURPOSE": N_("A field asked for is outside the declared purpose"),
    "INVALID_DATA_READ": N_("The read request has errors"),
    "REGISTER_ENTRY_NOT_FOUND": N_("The national register has no entry for this person"),
    "COMPANY_NOT_FOUND": N_("The trade and companies register has no entry for this company"),
    "DRIVING_LICENCE_NOT_FOUND": N_("No driving licence is registered for this person"),
    "VAT_ACCOUNT_NOT_FOUND": N_("This company has no VAT account"),
    "INVALID_CERTIFICATE_REQUEST": N_("The certificate request has errors"),
    "CERTIFICATE_NOT_FOUND": N_("No certificate was issued with this id"),
    "INVALID_VERIFICATION": N_("The certificate check has errors"),
    "INVALID_PAGE_REQUEST": N_("The page request has errors"),
    "INVALID_REPORT": N_("The report of wrong data has errors"),
    "TOO_MANY_OPEN_REPORTS": N_("Too many reports about this data are still open"),
    "CERTIFICATE_ISSUER_REFUSED": N_("This certificate's issuer may not call this service"),
    # --- procedures: the administrations' side ---
    "INVALID_INCOMING_QUERY": N_("The list of incoming requests asked has errors"),
    "INVALID_REFERENCE": N_(
        "This request reference is not valid: check it against the proof of deposit"
    ),
    "INVALID_STATUS_CHANGE": N_("The status change has errors"),
    "INVALID_CORRECTION_REQUEST": N_("The correction asked has errors"),
    "INVALID_NOTE": N_("The note has errors"),
    "STALE_VERSION": N_("The request changed since it was read: read it again"),
    "STATUS_TRANSITION_NOT_ALLOWED": N_(
        "The procedure does not allow this status after the current one"
    ),
    "UNKNOWN_STATUS": N_("The procedure has no such status"),
    "CORRECTION_NEEDS_QUESTION": N_("A correction is asked with its fields and a message"),
    "UNKNOWN_FIELD": N_("The procedure's form has no such field"),
    "CORRECTION_NOT_OFFERED": N_("This procedure cannot ask the citizen for a correction"),
    # --- procedures: catalogue, drafts and requests ---
    "PROCEDURE_NOT_FOUND": N_("The catalogue has no such procedure"),
    "INVALID_VERSION": N_("The version asked is not valid"),
    "INVALID_SEARCH": N_("The search has errors"),
    "PAPER_PROCEDURE": N_("This procedure is done on a paper form"),
    "QUOTA_REACHED": N_("This procedure takes no more requests for now: its quota is reached"),
    "PROCEDURE_NOT_OPEN": N_("This procedure does not take requests yet"),
    "PROCEDURE_CLOSED": N_("This procedure no longer takes requests"),
    "WRONG_AUDIENCE": N_("This procedure is not for the space you act for"),
    "REQUEST_NOT_FOUND": N_("No such request among yours"),
    "INVALID_REQUEST_ID": N_("The request id or reference is not valid"),
    "NOT_A_DRAFT": N_("This request is no longer a draft"),
    "INVALID_ANSWERS": N_("Some answers need correcting"),
    "INVALID_ANSWERS_JSON": N_("The answers must be a JSON object"),
    "ANSWERS_TOO_LARGE": N_("The answers are too large"),
    "STEP_NOT_FOUND": N_("The form has no such step"),
    "STEP_NOT_APPLICABLE": N_("This step does not apply to your answers"),
    "STEP_NOT_REACHABLE": N_("Complete the earlier steps first"),
    "NOT_ELIGIBLE": N_("Your answers end the procedure here"),
    "REQUEST_INCOMPLETE": N_("The request is not complete"),
    "INVALID_IDEMPOTENCY_KEY": N_("The idempotency key is not valid"),
    "ALREADY_SUBMITTED": N_("This request was already submitted"),
    "NO_CORRECTION_ASKED": N_("No correction was asked for this request"),
    "FIELD_NOT_ASKED": N_("Only the fields the administration asked about can be changed"),
    "NOT_CANCELLABLE": N_("This request can no longer be cancelled"),
    "PROOF_NOT_FOUND": N_("This request has no proof of deposit"),
    "INVALID_PROOF": N_("Send the proof of deposit as a PDF file"),
}


def title(reason: str, language: Language) -> str | None:
    """The reason's title in `language`, or None for a reason the catalogue does not know."""
    msgid = TITLES.get(reason)
    return KIT_CATALOG.gettext(msgid, language) if msgid else None
