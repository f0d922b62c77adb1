package io.herald.cli;

import java.io.Console;
import java.lang.reflect.Method;

/** Whether a person is at the keyboard, and asking them. Replaceable in tests. */
interface Terminal {
  boolean interactive();

  String readLine(String prompt);

  /**
   * True when stdin/stdout are a terminal. From JDK 22 {@code System.console()} is non-null even
   * when redirected, and {@code Console.isTerminal()} tells; on 21 a console means a terminal.
   */
  static boolean isTerminal() {
    Console c = System.console();
    if (c == null) {
      return false;
    }
    try {
      Method m = Console.class.getMethod("isTerminal");
      return (boolean) m.invoke(c);
    } catch (ReflectiveOperationException e) {
      return true;
    }
  }

  Terminal SYSTEM = new Terminal() {
    @Override
    public boolean interactive() {
      return isTerminal();
    }

    @Override
    public String readLine(String prompt) {
      Console c = System.console();
      return c == null ? null : c.readLine("%s", prompt);
    }
  };
}
