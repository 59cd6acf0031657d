import java.io.IOException;
import java.io.OutputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassFileVersion;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Enumeration;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * Build step of the app module (run by the JDK's source launcher after the shade plugin): rewrites the class files
 * under the given package prefixes in the application jar that are older than Java 6 (major version below 50;
 * picocli is compiled for Java 5) as Java 8 class files with stack maps, bytecode otherwise unchanged.
 *
 * <p>Why: the JVM's ahead-of-time cache (JEP 483) only holds classes it can link at training time, and classes
 * of version 49 or older are verified by the old type-inferencing verifier at run time instead, so the JVM
 * excludes them ("Unlinked class not supported by AOTClassLinking"). Every short command then read, parsed and
 * verified picocli's 170-odd classes from the jar again, 40-60 ms of each {@code vdi info} or {@code ctl} call.
 * Rebuilding the methods through the JDK's class-file API computes the stack maps the new verifier needs.
 *
 * <p>Only the libraries short commands load are named (other old libraries in the jar, such as commons-math
 * under JMH, reference classes that are not there, so their stack maps could not be computed and would gain
 * nothing). Usage: {@code java OldClassFileUpgrade.java JAR PREFIX...}; the jar is replaced only when every
 * old class under the prefixes converted.
 */
public final class OldClassFileUpgrade {

    private static final int FIRST_WITH_STACK_MAPS = 50;
    private static final int TARGET_MAJOR = 52;

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: OldClassFileUpgrade JAR PACKAGE_PREFIX...");
            System.exit(2);
        }
        Path jar = Path.of(args[0]);
        List<String> prefixes = List.of(args).subList(1, args.length);
        Path tmp = jar.resolveSibling(jar.getFileName() + ".upgrading");
        int upgraded = 0;
        try (ZipFile in = new ZipFile(jar.toFile());
             URLClassLoader jarClasses = new URLClassLoader(new URL[]{jar.toUri().toURL()}, null);
             OutputStream file = Files.newOutputStream(tmp);
             ZipOutputStream out = new ZipOutputStream(file)) {
            // Stack maps need the common supertype of two classes: the JDK's own classes, else parsed from the jar.
            ClassFile classFiles = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(
                    ClassHierarchyResolver.defaultResolver().orElse(ClassHierarchyResolver.ofResourceParsing(jarClasses))));
            ClassTransform upgrade = ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL)
                    .andThen((builder, element) -> {
                        if (element instanceof ClassFileVersion) {
                            builder.withVersion(TARGET_MAJOR, 0);
                        } else {
                            builder.with(element);
                        }
                    });
            for (Enumeration<? extends ZipEntry> entries = in.entries(); entries.hasMoreElements(); ) {
                ZipEntry entry = entries.nextElement();
                byte[] bytes = in.getInputStream(entry).readAllBytes();
                String name = entry.getName();
                if (name.endsWith(".class") && prefixes.stream().anyMatch(name::startsWith)) {
                    ClassModel model = classFiles.parse(bytes);
                    if (model.majorVersion() < FIRST_WITH_STACK_MAPS) {
                        bytes = classFiles.transformClass(model, upgrade);
                        upgraded++;
                    }
                }
                ZipEntry copy = new ZipEntry(entry.getName());
                copy.setTime(entry.getTime());
                out.putNextEntry(copy);
                out.write(bytes);
                out.closeEntry();
            }
        } catch (RuntimeException | IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.out.println("OldClassFileUpgrade: " + upgraded + " class files of " + jar.getFileName()
                + " rewritten as version " + TARGET_MAJOR + " with stack maps");
    }
}
