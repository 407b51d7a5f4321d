"""AES-GCM's nonces never repeat under a key (relance/encryption.py::Nonces): a counter after a random prefix,
a new prefix when the counter would wrap; two codecs (two processes) draw their own prefixes."""

from temporalio.api.common.v1 import Payload

from relance.encryption import NONCE_BYTES, EncryptionCodec, KeyRing, Nonces, new_key_line, parse_ring


def test_nonces_count_after_a_random_prefix_and_draw_a_new_one_before_they_wrap() -> None:
    nonces = Nonces()
    first = [nonces.next() for _ in range(1000)]
    assert len(set(first)) == 1000 and {n[:8] for n in first} == {first[0][:8]}
    assert [int.from_bytes(n[8:], "big") for n in first[:3]] == [0, 1, 2]
    nonces._count = Nonces.LIMIT  # as after 2^32 payloads
    wrapped = nonces.next()
    assert wrapped[:8] != first[0][:8] and wrapped[8:] == bytes(4)
    assert Nonces().next()[:8] != first[0][:8]  # another process's codec


def test_the_codec_seals_each_payload_with_its_own_nonce_and_reads_it_back() -> None:
    ring: KeyRing = parse_ring(new_key_line("k1"), "test")
    codec = EncryptionCodec(ring)
    sealed = [codec.encrypt(Payload(data=b'"same"')) for _ in range(3)]
    assert len({p.data[:NONCE_BYTES] for p in sealed}) == 3
    assert {codec.decrypt(p).data for p in sealed} == {b'"same"'}
