/* tls_pki_cli: `otahil tls ...`, the test PKI from the command line.
 *
 *   otahil tls ca --out DIR              the CA (kept if DIR has a valid one): ca.pem
 *   otahil tls certs --out DIR NAME...   the CA and every leaf for NAMEs (see tls_pki.h)
 *
 * argv[0] is "tls". Returns the exit status: 0, or 2 with a one-line message on stderr. */
#ifndef OTAHIL_TLS_PKI_CLI_H
#define OTAHIL_TLS_PKI_CLI_H

int tls_pki_cli_main(int argc, char **argv);

#endif
