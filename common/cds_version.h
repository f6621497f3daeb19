/*  cds_version: the one version string of cdsync, shown by both programs'
 *  --version, sent in Hello.agent_version, logged at start and exported on
 *  /metrics. deploy/debian/changelog's top entry must name the same
 *  version (tests/integration/cli_contract.sh checks it). */
#ifndef CDS_VERSION_H
#define CDS_VERSION_H

#define CDS_VERSION "0.1.0"

#endif
