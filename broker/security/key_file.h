// Reading a secret key file: a regular file that only its owner may access
// (mode 0600 or stricter), holding one line of text such as 64 hex
// characters. Shared by the data key (field_cipher.h) and the audit anchor
// key (yilian/audit/anchor.h), so both are refused for the same reasons with the
// same messages.
//
// Ownership: the returned text belongs to the caller, who wipes it
// (crypto::Wipe) once the key is derived from it. Error messages name the
// path and never the content.
// Thread safety: a pure function over the file system; safe from any thread.
#pragma once

#include <string>

#include "common/status.h"

namespace yilian::security {

// The content of the key file at `path` without a final "\n" or "\r\n".
// Refused: a file that cannot be opened or read (kIoError), that is not a
// regular file (kInvalidArgument), that group or others may access
// (kFailedPrecondition, naming the mode), or of more than 256 bytes
// (kInvalidArgument). Messages start with "key file '<path>'" or name it.
Result<std::string> ReadKeyFileText(const std::string& path);

}  // namespace yilian::security
