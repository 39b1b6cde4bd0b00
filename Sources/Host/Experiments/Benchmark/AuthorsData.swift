import Foundation
import Support

/// The authors' data fetched at a pinned commit of their repository, each file checked against
/// the SHA-256 it had there. Only the files a benchmark reads are kept: every task's split files
/// and their `val100.jsonl` general corpus.
public enum AuthorsData {
    /// The repository's archive at the commit the table below was read from.
    public static let defaultURL =
        "https://codeload.github.com/john-hewitt/model-editing-canonical-examples/tar.gz/"
        + "15a1e7b0c726151809fa4d46ab5882508349155e"

    /// Path inside the repository → SHA-256, for every file kept.
    public static let files: [String: String] = [
        "data/company_ceo/split/company_ceo_eval_clear-test.jsonl":
            "27e31a165222256727d44af6af06f27f8f0ddc81d9e19aacdaa7d9f767bfe0c0",
        "data/company_ceo/split/company_ceo_eval_clear-val.jsonl":
            "f35c7527b39610bce8b72b31d9fae37b5163724204316755cc93cbdedf4fa2e7",
        "data/company_ceo/split/company_ceo_hard_neg_eval_clear-test.jsonl":
            "5cc17c1809e90febfbb2048bbb6308577b15a87b15b66916d75fcfa92d37966b",
        "data/company_ceo/split/company_ceo_hard_neg_eval_clear-val.jsonl":
            "8daad944632be502bdf9ea0899a207ea54fedad9b9a681922ad4e9044f1d7131",
        "data/company_ceo/split/company_ceo_train-test.jsonl":
            "784b5aee770ca0063a91a7be9a3c586d23fe907c8a4301656b1dcaa9cc070344",
        "data/company_ceo/split/company_ceo_train-val.jsonl":
            "aeaa8cc63d58335aa4465ab619aa10959433a168069733a4449f875b4241ad17",
        "data/company_ceo/split/company_ceo_unconditional-test.jsonl":
            "0df8a5fc57e86a05d906f764578465e6de25682ac9ac491698652714ff10432c",
        "data/company_ceo/split/company_ceo_unconditional-val.jsonl":
            "311b864e29bd5e3846df445ce6e29f36ac0e48ff93bf8acb7ee695ce348f5608",
        "data/country_capital/split/country_capital_clear_eval-test.jsonl":
            "2e5f2a63f8dd02189b5778a1216076a98ca0eda305d8788728ad4bec6c5971ca",
        "data/country_capital/split/country_capital_clear_eval-val.jsonl":
            "3177e2dd4ef986405498b5b5eb43f8aaaffe071685323ff65de8a321ce9f2435",
        "data/country_capital/split/country_capital_fixed-test.jsonl":
            "44e25cde17290da8252f58342e161c17794f22f40df20a11f15217dae1d64c31",
        "data/country_capital/split/country_capital_fixed-val.jsonl":
            "201c0e1d05ac8f71eaed50b5943e11c347cddf3175a7a47517d64e50ee1eaf8c",
        "data/country_capital/split/country_capital_hard_neg-test.jsonl":
            "bddcd549605ff30c889047e8d5beec3238adf14800660c7c6779e26da27e5268",
        "data/country_capital/split/country_capital_hard_neg-val.jsonl":
            "0abad1e6d5c07653ce1b26d100b026284d26c5f78a82720c39d0d5a7d2103d3f",
        "data/country_capital/split/country_capital_unconditional-test.jsonl":
            "cc1af14ead48cdfb71601d277a887cba2b2a7c74d910ec0c6c5b00bd9e8fa592",
        "data/country_capital/split/country_capital_unconditional-val.jsonl":
            "eb9ae983fadc7a0f9f1f0e0bde42c5cb2ac658383462be464fdb8d63b9c1be5b",
        "data/pronoun_gender_bias/split/pronoun_gender_bias_eval-test.jsonl":
            "d9f14f64bccdd12b8ff6c16ab5b0de36fd60e24c9aabfd4eae5b36f8807fb7f9",
        "data/pronoun_gender_bias/split/pronoun_gender_bias_eval-val.jsonl":
            "9b1675bb3c99ce0040e8e5cd292b4c642572b989c2cba57a9e54e9c38b5060a6",
        "data/pronoun_gender_bias/split/pronoun_gender_bias_hard_neg_eval-test.jsonl":
            "5c4c04b990cd0fc19d3308d9cbca21a9d956f84406320ab2af9d1d042fb013de",
        "data/pronoun_gender_bias/split/pronoun_gender_bias_hard_neg_eval-val.jsonl":
            "4eb497706a63a34cd0b2d67b2a03f076d2e8020eb8526aed723edc19841fbd58",
        "data/pronoun_gender_bias/split/pronoun_gender_bias_train-test.jsonl":
            "daf41d017938f21a16fa0c28590458595b19a83eb02e3bdc0cd21a4953695f9d",
        "data/pronoun_gender_bias/split/pronoun_gender_bias_train-val.jsonl":
            "7e5863c1196ad3c97e775468047e5661bf5e970640f1f001f1c1d440a6aeefbe",
        "data/pronoun_gender_bias/split/pronoun_gender_bias_unconditional-test.jsonl":
            "edf9835703ecd741286e284c11e4bb9f6c5fc3f32d5ad703042668c1c281c76c",
        "data/pronoun_gender_bias/split/pronoun_gender_bias_unconditional-val.jsonl":
            "f5cafe58433db8af099738c77171b8601dd4c75a8fd83ddda09f5c8b98eaa453",
        "data/stereoset/split/stereoset_eval_clear-test.jsonl":
            "c67e160c04e9e065db3a58e83483ce5eecab3b34acf4cd1f8e02891dfd83074c",
        "data/stereoset/split/stereoset_eval_clear-val.jsonl":
            "87a1bcabf35ce6eac28c823efda65f54468b4b8cdabcbddec40316e83892314b",
        "data/stereoset/split/stereoset_hard_neg-test.jsonl":
            "feab4d10d076152c4a4bf8f5db2ec9f63e49cd95d600c1986330c3f8b3fcc6cb",
        "data/stereoset/split/stereoset_hard_neg-val.jsonl":
            "65582e2aa783dc52fcbb25130ca901b51b608dfd99aa32c29b0dd8eec0868ab3",
        "data/stereoset/split/stereoset_train-test.jsonl":
            "15e30ed811cd79c8a8e05217fa482bddb53925d456a8e939625456e08a1fe8b1",
        "data/stereoset/split/stereoset_train-val.jsonl":
            "57241da55b1536483c5400ce62c40fc560f019ea16fc50b3dbb9d2a812be6505",
        "data/stereoset/split/stereoset_unconditional-test.jsonl":
            "218645688f96b0d2a3175de897ff779b4ef418c37426aa052cbeda08fd35de07",
        "data/stereoset/split/stereoset_unconditional-val.jsonl":
            "6861303f2296944cbe2a017e0702a2bb95be10096a9993f603b662f6fa1c488f",
        "data/temporal/split/temporal_eval_clear-test.jsonl":
            "77a9ff0a8ed11a550b7a6bb435b5f55c404b383d6566061a5ddcabf976773486",
        "data/temporal/split/temporal_eval_clear-val.jsonl":
            "3594aa9ed273d735818431bea9c8d300a5a652f763c0b9d71c40f52e32c471d0",
        "data/temporal/split/temporal_hard_neg_eval_clear-test.jsonl":
            "e07fb9fe7304420d2516f15a067c542ffc9860d5757a76e21ef3e4e31c1f2ac7",
        "data/temporal/split/temporal_hard_neg_eval_clear-val.jsonl":
            "5a3fe09aa3b54a8f5f87d99c821d983671520dc4b1a35cab14c3255933b69bdf",
        "data/temporal/split/temporal_train-test.jsonl":
            "260d80ac4d2c0d9043f469dc150dc5d8360c061c23c6d5a8f8d08edad84790b0",
        "data/temporal/split/temporal_train-val.jsonl":
            "621363bb531855eb8ef687fbfee2463123f3315929634910f19a75db3fbecf58",
        "data/temporal/split/temporal_unconditional-test.jsonl":
            "eb18fbae3dac7b38c24a346b655ac6b11a2ede2e75333ee0780cc34a79d8e23e",
        "data/temporal/split/temporal_unconditional-val.jsonl":
            "773211be23ba43069a8e2e38ae78284fbadb1e16877be9115729fbfc95898a4b",
        "data/val100.jsonl":
            "f5ed2ec1165bf1763e79883b56f82ceec624b30248d8a3b11e9f3d1a62f50e36",
        "data/verb_conjugation/split/verb_conjugation_eval-test.jsonl":
            "fb0bca475454f198abcf9a53ff5d33a6b57eada2743c440745faaadb97eb1f31",
        "data/verb_conjugation/split/verb_conjugation_eval-val.jsonl":
            "9400981c518728a32b3b19c37ca8a969c2ae4d511f3234552d5c989c9f54e184",
        "data/verb_conjugation/split/verb_conjugation_eval_unconditional-test.jsonl":
            "0a350623d156dda19b51b51a3a3f28d3d702d77261f41815df0f39b5dd14f6bd",
        "data/verb_conjugation/split/verb_conjugation_eval_unconditional-val.jsonl":
            "a4c8e28e959b55b1fcba90fa47adc8165b6f691a9cdc0e94cb0ad5353a60c2e7",
        "data/verb_conjugation/split/verb_conjugation_hard_neg_eval-test.jsonl":
            "5b9c25de190f595a06b51b5949d2e6f21dbc694355116e224607327aac1303e5",
        "data/verb_conjugation/split/verb_conjugation_hard_neg_eval-val.jsonl":
            "5e3bd94a8427edd07c919e60e57da326eac31ae59281cbade52d98c17c09a262",
        "data/verb_conjugation/split/verb_conjugation_train-test.jsonl":
            "f1c73599cefcae09ab468f4f39dce8d2b9c497180060567b8555b9c95cfe9c0f",
        "data/verb_conjugation/split/verb_conjugation_train-val.jsonl":
            "1fe561cfa3bab31d23a8c32050b1f27d14a0a340ecb5fd4380dd41796c7d8148",
    ]

    /// Downloads `url` (https or file), unpacks it, and copies the files of `expected` into
    /// `folder` in the same layout after checking each one's SHA-256. Nothing is copied unless
    /// every file is there and intact; an error names the first file that is not.
    public static func fetch(
        url: String, into folder: String, expected: [String: String] = files, progress: (String) -> Void = { _ in }
    ) throws {
        guard let u = URL(string: url), ["https", "http", "file"].contains(u.scheme ?? "") else {
            throw CanonEditError("\(url): not an https or file URL")
        }
        let work = NSTemporaryDirectory() + "canonedit-fetch-" + UUID().uuidString
        try Folder.make(work)
        defer { try? FileManager.default.removeItem(atPath: work) }
        progress("downloading \(url)")
        let data: Data
        do { data = try Data(contentsOf: u) } catch {
            throw CanonEditError("\(url): cannot download (\(error.localizedDescription)); copy the repository by hand")
        }
        try data.write(to: URL(fileURLWithPath: work + "/archive.tar.gz"))
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-xzf", work + "/archive.tar.gz", "-C", work]
        try tar.run()
        tar.waitUntilExit()
        guard tar.terminationStatus == 0 else { throw CanonEditError("\(url): not a gzipped tar archive") }
        // GitHub's archives hold one folder named after the repository and commit.
        let top = try FileManager.default.contentsOfDirectory(atPath: work).filter { $0 != "archive.tar.gz" }
        let base = top.count == 1 ? work + "/" + top[0] : work
        for (path, sha) in expected.sorted(by: { $0.key < $1.key }) {
            guard let bytes = FileManager.default.contents(atPath: base + "/" + path) else {
                throw CanonEditError("\(url): the archive has no \(path)")
            }
            let found = SHA256Digest.hex(of: bytes)
            guard found == sha else {
                throw CanonEditError("\(url): \(path) has SHA-256 \(found), not \(sha) as at the pinned commit")
            }
        }
        for path in expected.keys.sorted() {
            let to = folder + "/" + path
            try FileManager.default.createDirectory(
                atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(FileManager.default.contents(atPath: base + "/" + path)!, to: to)
        }
        progress("\(expected.count) files checked and written to \(folder)")
    }
}
