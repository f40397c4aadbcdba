/*
 * oci.h - the protocol's vocabulary, one include for all of it.
 *
 * oci/ holds what the OCI distribution and image specs define, as pure
 * functions with no I/O: digests (digest.h), repository names, tags and
 * references (ref.h), manifests and their media types (manifest.h), byte
 * ranges (range.h). Every layer may include it; it includes nothing of
 * theirs but common/status.h. Conventions: inputs are borrowed, outputs go
 * to caller-owned buffers sized by the *_MAX macros, and every function
 * answers a status_t from common/status.h.
 */
#ifndef OCI_H
#define OCI_H

#include "digest.h"
#include "manifest.h"
#include "range.h"
#include "ref.h"

#endif
