/* "Lignende forslag": proposals whose wording is close to what is being typed, by character
 * trigram similarity (Dice coefficient) on normalised text. The same measure as the server's
 * duplicate suggestions (workshop/domain/similarity.py). */
(function () {
  "use strict";

  function normalise(text) {
    return (text || "").toLocaleLowerCase("da").normalize("NFKC")
      .replace(/[^\p{L}\p{N}]+/gu, " ").trim();
  }

  function trigrams(text) {
    var padded = "  " + normalise(text) + " ";
    var grams = new Map();
    for (var i = 0; i + 3 <= padded.length; i++) {
      var gram = padded.slice(i, i + 3);
      grams.set(gram, (grams.get(gram) || 0) + 1);
    }
    return grams;
  }

  function dice(a, b) {
    var total = 0, shared = 0;
    a.forEach(function (n) { total += n; });
    b.forEach(function (n, gram) { total += n; if (a.has(gram)) { shared += Math.min(n, a.get(gram)); } });
    return total ? (2 * shared) / total : 0;
  }

  /* The most similar candidates ({id, title, body}) to `text`, best first. */
  function mostSimilar(text, candidates, limit, threshold) {
    if (normalise(text).length < 8) { return []; }
    var grams = trigrams(text);
    return candidates
      .map(function (c) { return { item: c, score: dice(grams, trigrams(c.title + " " + (c.body || ""))) }; })
      .filter(function (x) { return x.score >= threshold; })
      .sort(function (x, y) { return y.score - x.score; })
      .slice(0, limit);
  }

  window.SamskabSimilar = { mostSimilar: mostSimilar, trigrams: trigrams, dice: dice };
})();
