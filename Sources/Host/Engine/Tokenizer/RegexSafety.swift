/// A tokenizer.json's Split and Replace patterns run on every piece of every text, with a
/// backtracking engine. A repeated group that itself repeats, like `(a+)+$`, backtracks
/// exponentially (43 bytes took over 20 s), so such patterns are refused when the file is read.
/// No real tokenizer uses one: GPT-2's, Llama 3's and Qwen 2's patterns repeat classes, not
/// repeated groups.
enum RegexSafety {
    /// The first group that is repeated without bound and itself holds an unbounded repeat, as
    /// the pattern text from its "(" to its quantifier; nil when there is none.
    static func nestedRepeat(in pattern: String) -> String? {
        let c = Array(pattern)
        var i = 0
        // For each open group: where it starts, and whether it holds an unbounded repeat.
        var groups: [(start: Int, repeats: Bool)] = []
        func unbounded(at j: Int) -> Int? {  // the quantifier's length at j if it is unbounded
            guard j < c.count else { return nil }
            if c[j] == "+" || c[j] == "*" { return 1 }
            guard c[j] == "{", let close = c[j...].firstIndex(of: "}") else { return nil }
            let body = String(c[(j + 1)..<close])
            let parts = body.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[1].isEmpty || (Int(parts[1]) ?? 0) > 1 else { return nil }
            return close - j + 1
        }
        while i < c.count {
            switch c[i] {
            case "\\":
                i += 2
                continue
            case "[":
                var j = i + 1
                if j < c.count, c[j] == "^" { j += 1 }
                if j < c.count, c[j] == "]" { j += 1 }
                while j < c.count, c[j] != "]" { j += c[j] == "\\" ? 2 : 1 }
                i = j + 1
                continue
            case "(":
                groups.append((i, false))
                i += 1
                continue
            case ")":
                guard let g = groups.popLast() else { return nil }
                if let q = unbounded(at: i + 1) {
                    if g.repeats { return String(c[g.start..<(i + 1 + q)]) }
                    if !groups.isEmpty { groups[groups.count - 1].repeats = true }
                    i += 1 + q
                    continue
                }
                if g.repeats, !groups.isEmpty { groups[groups.count - 1].repeats = true }
                i += 1
                continue
            default:
                if let q = unbounded(at: i) {
                    if !groups.isEmpty { groups[groups.count - 1].repeats = true }
                    i += q
                    continue
                }
            }
            i += 1
        }
        return nil
    }
}
