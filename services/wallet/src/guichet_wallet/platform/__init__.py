"""The platform's side of the wallet: FileService, what other platform services call over mutual
TLS (immutable copies, attachments into the wallet, eDocuments)."""
