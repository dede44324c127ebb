// Stored values the cipher must read without crashing, whatever they hold:
// the input is taken as an EnterpriseEvent (decrypted in place; a bad value
// is refused, never half-applied) and as one raw "sm4:" value. Encrypting
// then decrypting a decodable event must give it back unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_checks.h"
#include "security/field_cipher.h"

namespace {

const yilian::security::FieldCipher& Cipher() {
  static const auto* cipher = new yilian::security::FieldCipher(
      yilian::security::FieldCipher::FromKeyHex("00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210")
          .value());
  return *cipher;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace v1 = yilian::v1;
  if (size > 1 << 20) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)Cipher().DecryptValue("enterprise.contact.phone", "sm4:" + bytes);

  v1::EnterpriseEvent event;
  if (!event.ParseFromString(bytes)) return 0;
  const std::string original = event.SerializeAsString();
  if (!Cipher().DecryptPersonal(&event).ok() && event.SerializeAsString() != original) {
    yilian::fuzz::Fail("a failed DecryptPersonal changed the event");
  }
  v1::EnterpriseEvent copy = event;
  if (Cipher().EncryptPersonal(&copy).ok()) {
    if (!Cipher().DecryptPersonal(&copy).ok()) yilian::fuzz::Fail("cannot decrypt what was just encrypted");
    if (copy.SerializeAsString() != event.SerializeAsString()) yilian::fuzz::Fail("cipher round trip changed the event");
  }
  return 0;
}
