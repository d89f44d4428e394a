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
}
