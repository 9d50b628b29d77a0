import pytest

from estlab import datasets


def test_adult_canonical_split_and_labels():
    ds = datasets.load_adult()
    assert (len(ds.train), len(ds.test)) == (32561, 16281)
    assert ds.label_vocabulary == ["<=50K", ">50K"]
    assert int((ds.test[ds.label] == ">50K").sum()) == 3846
    assert ds.train["workclass"].isna().sum() == 1836  # '?' became NaN


def test_penguins_and_diamonds_have_categoricals():
    penguins = datasets.load_penguins()
    assert len(penguins.train) + len(penguins.test) == 344
    assert penguins.label_vocabulary == ["Adelie", "Chinstrap", "Gentoo"]
    diamonds = datasets.load("diamonds")
    assert diamonds.task == "regression"
    assert set(diamonds.train["cut"].unique()) == {"Fair", "Good", "Very Good", "Premium", "Ideal"}
    train, test = diamonds
    assert len(train) + len(test) == 53940


def test_unknown_dataset_names_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown dataset name='adlt'.*Did you mean 'adult'"):
        datasets.load("adlt")
