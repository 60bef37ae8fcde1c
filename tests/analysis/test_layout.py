"""Output plan and file names per family kind (the rules and the writers share it)."""

from __future__ import annotations

from recall_distortion.analysis import expected_outputs
from recall_distortion.analysis.layout import analysis_plan, dataset_label, model_label


def _fam(name, kind, exps, methods, ratios=(2, 4, 10), **kw):
    return {"name": name, "kind": kind, "experiments": [{"dataset": d, "model": m} for d, m in exps],
            "methods": list(methods), "ratios": list(ratios), **kw}


def test_names_follow_the_paper_numbers(families):
    out = expected_outputs(families, "results/s")
    tables = {p.split("/")[-1] for p in out["tables"]}
    for stem in ["table4_methods", "table8_methods", "table1_sizes_mp", "table5_sizes_mp", "table2_sizes_up",
                 "table6_sizes_up", "table9_sizes", "table3_tasks_mp", "table7_tasks_mp", "figure13_tradeoff",
                 "alpha_ci", "table10", "table11"]:
        assert {f"{stem}.{ext}" for ext in ("csv", "md", "tex", "html")} <= tables, stem
    figures = {f: {p.split("/")[-1] for p in paths} for f, paths in out["figures"].items()}
    assert figures["methods"] == {f"figure{n}_methods.{e}" for n in (1, 5, 9) for e in ("png", "pdf")}
    assert {"figure2_sizes_mp.png", "figure6_sizes_mp.pdf", "figure10_sizes_mp.png", "figure4_sizes_up.png",
            "figure8_sizes_up.png", "figure12_sizes_up.pdf"} <= figures["sizes"]
    assert {"figure3_tasks_mp.png", "figure7_tasks_mp.png", "figure11_tasks_mp.png"} <= figures["tasks"]
    assert figures["tradeoff"] == {"figure13_tradeoff.png", "figure13_tradeoff.pdf"}
    assert out["summary"] == ["results/s/summary.md", "results/s/summary.html"]
    assert all(p.startswith("results/s/tables/") for p in out["tables"])


def test_single_member_families_have_no_comparison_table_and_a_note():
    fams = [
        _fam("solo", "method", [("cifar10", "resnet56")], ["mp"]),
        _fam("one_model", "model", [("cifar10", "resnet56")], ["mp"]),
        _fam("one_data", "dataset", [("cifar10", "resnet56")], ["mp"], ratios=[10]),
    ]
    plan = analysis_plan(fams)
    stems = {o.stem for o in plan.tables}
    assert "table8_solo" not in stems and "table4_solo" in stems
    assert "table5_one_model_mp" not in stems and "table9_one_model" not in stems
    assert "table7_one_data_mp" not in stems and "table3_one_data_mp" not in stems
    notes = " ".join(plan.notes)
    assert "no Table 8" in notes and "no Tables 5/6" in notes and "no Table 7" in notes and "one ratio" in notes


def test_dataset_comparisons_default_to_consecutive_pairs():
    fam = _fam("d", "dataset", [("mnist", "lenet5"), ("cifar10", "resnet56"), ("cifar100", "resnet56")], ["mp"])
    from recall_distortion.analysis.layout import comparisons

    assert comparisons(fam) == [("mnist", "cifar10"), ("cifar10", "cifar100")]
    fam["comparisons"] = [["mnist", "cifar100"]]
    assert comparisons(fam) == [("mnist", "cifar100")]



def test_families_of_kind_method_model_dataset_get_the_outputs_beyond_alpha(families):
    from recall_distortion.analysis.layout import forgetting_plan

    by_name = {f["name"]: f for f in families}
    stems = {o.stem: o.directory for o in forgetting_plan(by_name["sizes"])}
    assert stems == {"pie_sizes": "tables", "pie_images_sizes": "figures", "class_tests_sizes": "tables",
                     "confusion_sizes": "figures", "absorption_sizes": "tables", "disparity_sizes": "tables",
                     "recall_change_sizes": "figures"}
    assert forgetting_plan(by_name["tradeoff"]) == []
    out = expected_outputs(families, "results/s")
    assert {"results/s/tables/pie_methods.tex", "results/s/figures/confusion_tasks.pdf"} <= set(out["forgetting"])
    assert not any("tradeoff" in f for f in out["forgetting"])


def test_display_names_follow_the_papers_spelling():
    assert [model_label(m) for m in ("lenet5", "lenet300100", "resnet56", "mlp")] == [
        "LeNet5", "LeNet-300-100", "ResNet-56", "mlp"]
    assert [dataset_label(d) for d in ("cifar10", "fashion_mnist", "digits")] == ["CIFAR-10", "Fashion", "Digits"]
