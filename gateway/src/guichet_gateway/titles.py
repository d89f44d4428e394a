"""Problem titles by reason, in the three languages (RFC 9457 `title`)."""

from __future__ import annotations

from guichet_kit.problems import Titles

PROBLEM_TITLES: Titles = {
    "INVALID_TRACKING_NUMBER": {
        "fr": "Ce numéro eTracking n'est pas valide : vérifiez-le sur votre feuille eTracking",
        "de": "Diese eTracking-Nummer ist ungültig: Bitte mit Ihrem eTracking-Blatt vergleichen",
        "en": "This eTracking number is not valid: check it against your eTracking sheet",
    },
    "TRACKING_NOT_FOUND": {
        "fr": "Aucun suivi eTracking ne porte ce numéro",
        "de": "Keine eTracking-Verfolgung mit dieser Nummer",
        "en": "No eTracking has this number",
    },
    "INVALID_TRACKING_REQUEST": {
        "fr": "La demande de suivi contient des erreurs",
        "de": "Die Verfolgungsanfrage enthält Fehler",
        "en": "The tracking request has errors",
    },
    "INVALID_LANGUAGE": {
        "fr": "Langue non prise en charge (fr, de ou en)",
        "de": "Sprache nicht unterstützt (fr, de oder en)",
        "en": "Unsupported language (fr, de or en)",
    },
    "VALIDATION_FAILED": {
        "fr": "Les données envoyées ne sont pas valides",
        "de": "Die gesendeten Angaben sind ungültig",
        "en": "The data sent is not valid",
    },
    "RATE_LIMITED": {
        "fr": "Trop de recherches, réessayez dans un instant",
        "de": "Zu viele Abfragen, bitte gleich noch einmal versuchen",
        "en": "Too many lookups, try again in a moment",
    },
    "AUTHENTICATION_REQUIRED": {
        "fr": "Connectez-vous pour continuer",
        "de": "Bitte melden Sie sich an",
        "en": "Sign in to continue",
    },
    "INVALID_TOKEN": {
        "fr": "Votre session n'est plus valide, reconnectez-vous",
        "de": "Ihre Sitzung ist nicht mehr gültig, bitte erneut anmelden",
        "en": "Your session is no longer valid, sign in again",
    },
    "INSUFFICIENT_USER_AUTHENTICATION": {
        "fr": "Cette action demande une authentification plus forte",
        "de": "Diese Aktion erfordert eine stärkere Authentifizierung",
        "en": "This action needs a stronger sign-in",
    },
    "INVALID_ACTING_CONTEXT": {
        "fr": "Contexte d'action invalide",
        "de": "Ungültiger Handlungskontext",
        "en": "Invalid acting context",
    },
    "MANDATE_REFUSED": {
        "fr": "Vous n'avez pas de mandat pour agir dans ce contexte",
        "de": "Sie haben kein Mandat, in diesem Kontext zu handeln",
        "en": "You hold no mandate to act in this context",
    },
    # One 429 reason per family of routes, titled for what it limits.
    "LOOKUPS_RATE_LIMITED": {
        "fr": "Trop de consultations, réessayez dans une minute",
        "de": "Zu viele Abfragen, bitte in einer Minute erneut versuchen",
        "en": "Too many lookups, try again in a minute",
    },
    "REGISTRATIONS_RATE_LIMITED": {
        "fr": "Trop de demandes de compte, réessayez dans une minute",
        "de": "Zu viele Kontoanfragen, bitte in einer Minute erneut versuchen",
        "en": "Too many account requests, try again in a minute",
    },
    "CREATIONS_RATE_LIMITED": {
        "fr": "Trop de nouveaux suivis, réessayez dans une minute",
        "de": "Zu viele neue Verfolgungen, bitte in einer Minute erneut versuchen",
        "en": "Too many new trackings, try again in a minute",
    },
    "REQUEST_TOO_LARGE": {
        "fr": "La requête est trop volumineuse",
        "de": "Die Anfrage ist zu groß",
        "en": "The request is too large",
    },
    # A service call that failed without a reason of its own.
    "DEPENDENCY_UNAVAILABLE": {
        "fr": "Un service nécessaire est momentanément indisponible",
        "de": "Ein benötigter Dienst ist vorübergehend nicht verfügbar",
        "en": "A service needed for this is temporarily unavailable",
    },
    "DEPENDENCY_TIMEOUT": {
        "fr": "Un service nécessaire n'a pas répondu à temps, réessayez",
        "de": "Ein benötigter Dienst hat nicht rechtzeitig geantwortet, bitte erneut versuchen",
        "en": "A service needed for this did not answer in time, try again",
    },
    "UPSTREAM_FAILED": {
        "fr": "Un service nécessaire a échoué",
        "de": "Ein benötigter Dienst ist fehlgeschlagen",
        "en": "A service needed for this failed",
    },
}
