"""The sandbox INSi host: the INS teleservice's two searches over SOAP 1.2 and mutual TLS.

Built from the published WSDL and XSDs (resources/spec/insi/) and the public descriptions in
docs/sandbox.md, never from the client: the import-linter contract forbids app imports here.
"""
