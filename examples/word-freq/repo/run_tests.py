"""Runs unittest suites and reports each test the way `pytest -rA` does (`PASSED path::Class::test`).

The example repositories carry this file so their tests run in any sandbox with a bare python3: no pytest,
no network. The ids match pytest's, so `python3 -m pytest -rA <files>` gives the same lines where pytest exists.
Usage: python3 run_tests.py [tests/test_x.py ...]   (default: every tests/test_*.py)
"""
import glob
import importlib
import os
import sys
import traceback
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class Report(unittest.TestResult):
    def __init__(self, path):
        super().__init__()
        self.path = path
        self.lines = []

    def _id(self, test):
        return "%s::%s::%s" % (self.path, type(test).__name__, test._testMethodName)

    def addSuccess(self, test):
        self.lines.append("PASSED " + self._id(test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.lines.append("FAILED " + self._id(test))

    def addError(self, test, err):
        super().addError(test, err)
        self.lines.append("FAILED " + self._id(test))

    def addSkip(self, test, reason):
        self.lines.append("SKIPPED " + self._id(test))

    def addExpectedFailure(self, test, err):
        self.lines.append("XFAIL " + self._id(test))

    def addUnexpectedSuccess(self, test):
        self.lines.append("FAILED " + self._id(test))


def run_file(path):
    module = path[:-3].replace("/", ".")
    try:
        suite = unittest.defaultTestLoader.loadTestsFromModule(importlib.import_module(module))
    except Exception:
        traceback.print_exc()
        return ["ERROR " + path]
    report = Report(path)
    suite.run(report)
    for test, text in report.failures + report.errors:
        print("_" * 20, test.id(), "_" * 20)
        print(text)
    return report.lines


def main(argv):
    paths = argv or sorted(glob.glob("tests/test_*.py"))
    lines = []
    for path in paths:
        lines.extend(run_file(os.path.normpath(path)))
    print("=" * 25, "short test summary info", "=" * 25)
    for line in lines:
        print(line)
    return 0 if lines and all(line.split()[0] in ("PASSED", "SKIPPED", "XFAIL") for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
