"""Suggested duplicates by character trigrams: pure, no database."""

from workshop.domain.similarity import Text, dice, normalise, similar_pairs, trigrams


def test_normalise_folds_case_and_punctuation():
    assert normalise("  Én DIGITAL indgang!! ") == "én digital indgang"


def test_identical_texts_score_one_and_unrelated_ones_low():
    assert dice(trigrams("Fast kontaktperson"), trigrams("fast kontaktperson")) == 1.0
    assert dice(trigrams("Fast kontaktperson"), trigrams("Årligt netværksmøde")) < 0.2


def test_inflected_danish_wording_is_found_as_a_duplicate():
    texts = [
        Text(1, "Fast kontaktperson for foreningerne", 1),
        Text(2, "En fast kontaktperson til foreninger", 1),
        Text(3, "Årligt netværksmøde for frivilligcentre", 1),
        Text(4, "Frivilligkoordinator på hvert hospital", 1),
    ]
    pairs = similar_pairs(texts, threshold=0.4)
    assert [(p.a, p.b) for p in pairs] == [(1, 2)]
    assert 0.4 <= pairs[0].score < 1


def test_only_texts_in_the_same_group_are_compared():
    texts = [Text(1, "Fast kontaktperson", 1), Text(2, "Fast kontaktperson", 2)]
    assert similar_pairs(texts) == []


def test_best_pairs_come_first_and_the_limit_holds():
    texts = [Text(i, f"Digital indgang for frivillige nummer {i}", 1) for i in range(10)]
    texts.append(Text(99, "Digital indgang for frivillige nummer 1", 1))
    pairs = similar_pairs(texts, threshold=0.3, limit=5)
    assert len(pairs) == 5
    assert (pairs[0].a, pairs[0].b, pairs[0].score) == (1, 99, 1.0)
    assert [p.score for p in pairs] == sorted((p.score for p in pairs), reverse=True)
