"""xolap as an xAPI LRS: statement validation, storage, query, voiding, attachments and LRS credentials."""
