"""The credentials the sandbox accepts. They are fixed, public and worthless outside the sandbox."""

# Mailchimp keys end in -<dc>; the emulator checks the key, not the data centre.
MAILCHIMP_API_KEY = "sandbox-mailchimp-key-us21"
HUBSPOT_ACCESS_TOKEN = "sandbox-hubspot-private-app-token"
# Two Gmail tokens: one granted the full https://mail.google.com/ scope, one only gmail.readonly and
# gmail.modify, which Gmail refuses batchDelete.
GMAIL_ACCESS_TOKEN = "sandbox-gmail-full-scope-token"
GMAIL_READONLY_ACCESS_TOKEN = "sandbox-gmail-modify-scope-token"
